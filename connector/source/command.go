package source

import (
	"encoding/json"
	"io"
	"slices"

	"github.com/spf13/pflag"

	"github.com/source-pluggy/source-pluggy/connector/protocol"
	"github.com/source-pluggy/source-pluggy/connector/secret"
)

// The two methods below are what a provider's own command (Extra: connect,
// say) needs from the runtime, so it parses flags and judges a config
// exactly as spec, check, discover and read do, whatever the provider.

// ParseFlags parses a command's flags the way the protocol commands do:
// --help prints the usage on stdout, a bad or missing required flag prints
// it on stderr. ok is false when the command must end with code.
func (r *Runner) ParseFlags(cmd, summary string, args []string, stdout, stderr io.Writer, define func(*pflag.FlagSet), required ...string) (code int, ok bool) {
	_, code, ok = r.flags(cmd, summary, args, stdout, stderr, define, required...)
	return code, ok
}

// LoadConfig reads the config file at path and validates it against the
// source's spec, registering its secrets with secrets before anything can
// quote them. The result is what Source.Open takes. The fields named in
// mayBeEmpty may be missing or empty although the spec requires them: a
// connect command is how a first config gets its item or requisition ids.
func (r *Runner) LoadConfig(path string, secrets *secret.Redactor, mayBeEmpty ...string) (json.RawMessage, error) {
	src := r.Source
	if len(mayBeEmpty) > 0 {
		src = relaxed{src, mayBeEmpty}
	}
	cfg, _, err := loadConfig(src, path, secrets, configKeys{})
	return cfg, err
}

// relaxed is a Source whose spec lets fields be missing or empty.
type relaxed struct {
	Source
	fields []string
}

func (s relaxed) Spec() protocol.Spec {
	spec := s.Source.Spec()
	var obj map[string]any
	if json.Unmarshal(spec.ConnectionSpecification, &obj) != nil {
		return spec
	}
	if req, ok := obj["required"].([]any); ok {
		keep := req[:0]
		for _, n := range req {
			if !slices.Contains(s.fields, n.(string)) {
				keep = append(keep, n)
			}
		}
		obj["required"] = keep
	}
	props, _ := obj["properties"].(map[string]any)
	for _, f := range s.fields {
		if p, ok := props[f].(map[string]any); ok {
			delete(p, "minItems")
			delete(p, "minLength")
		}
	}
	spec.ConnectionSpecification, _ = json.Marshal(obj)
	return spec
}

func (s relaxed) NormalizeConfig(cfg map[string]any) {
	if n, ok := s.Source.(ConfigNormalizer); ok {
		n.NormalizeConfig(cfg)
	}
}

// Advisory is what a Conn's Check returns when the config works but the
// user should act (an item to re-authenticate, say): check reports
// CONNECTION_STATUS SUCCEEDED with Msg, since reading would succeed.
type Advisory struct{ Msg string }

func (a *Advisory) Error() string { return a.Msg }
