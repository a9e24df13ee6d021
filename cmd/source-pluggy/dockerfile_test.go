package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// dockerStage is one stage of a Dockerfile: its FROM image, as written,
// and its instructions, continuation lines joined.
type dockerStage struct {
	from  string
	lines []string
}

// parseDockerfile returns the global ARG defaults (before the first FROM)
// and the stages of the Dockerfile at path, in order.
func parseDockerfile(t *testing.T, path string) (map[string]string, []dockerStage) {
	t.Helper()
	b, err := os.ReadFile(path)
	st.Must(t, err, "reading the Dockerfile")
	args := map[string]string{}
	var stages []dockerStage
	var cur strings.Builder
	for _, raw := range strings.Split(string(b), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") || line == "" && cur.Len() == 0 {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		ins := strings.TrimSpace(cur.String())
		cur.Reset()
		word, rest, _ := strings.Cut(ins, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			fields := strings.Fields(rest)
			img := fields[0]
			if strings.HasPrefix(img, "--") && len(fields) > 1 {
				img = fields[1]
			}
			stages = append(stages, dockerStage{from: img})
		case "ARG":
			if len(stages) == 0 {
				name, def, _ := strings.Cut(rest, "=")
				args[name] = def
			}
		}
		if len(stages) > 0 {
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, ins)
		}
	}
	return args, stages
}

// TestDockerfileRunsUnderAirbyte checks the image the Dockerfile builds by
// default against what the Airbyte platform does with a connector image:
// its launcher starts the container with sh -c and a script that evaluates
// "$AIRBYTE_ENTRYPOINT read --config …" (so the base must have a shell,
// and AIRBYTE_ENTRYPOINT must name the connector), it names and versions
// the connector from the io.airbyte labels, and Kubernetes' runAsNonRoot
// needs a numeric non-root USER. A scratch or distroless base has no sh:
// every Airbyte job failed before the connector started.
func TestDockerfileRunsUnderAirbyte(t *testing.T) {
	args, stages := parseDockerfile(t, filepath.Join(st.RepoRoot(), "Dockerfile"))
	if len(stages) == 0 {
		t.Fatal("the Dockerfile has no FROM")
	}
	// The last stage is the default target; its FROM may name ${NAME} or
	// ${NAME:-default}, resolved from the global ARGs.
	final := stages[len(stages)-1]
	argRef := regexp.MustCompile(`\$\{(\w+)(?::-([^}]*))?\}`)
	base := argRef.ReplaceAllStringFunc(final.from, func(ref string) string {
		m := argRef.FindStringSubmatch(ref)
		if v := args[m[1]]; v != "" {
			return v
		}
		return m[2]
	})
	if base == "scratch" || strings.Contains(base, "distroless") || base == "" {
		t.Errorf("the default target is built FROM %s (%q): an image without sh, which Airbyte's launcher starts with sh -c; base it on one with a shell (busybox)", final.from, base)
	}
	var entrypoint, airbyteEntrypoint, user string
	labels := map[string]string{}
	for _, ins := range final.lines {
		word, rest, _ := strings.Cut(ins, " ")
		switch strings.ToUpper(word) {
		case "ENTRYPOINT":
			var exec []string
			if err := json.Unmarshal([]byte(rest), &exec); err != nil || len(exec) != 1 {
				t.Errorf("ENTRYPOINT %s: want the exec form naming the binary alone", rest)
			} else {
				entrypoint = exec[0]
			}
		case "ENV":
			if v, ok := strings.CutPrefix(rest, "AIRBYTE_ENTRYPOINT="); ok {
				airbyteEntrypoint = v
			}
		case "USER":
			user = rest
		case "LABEL":
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				labels[k] = v
			}
		}
	}
	if entrypoint != "/source-pluggy" || airbyteEntrypoint != entrypoint {
		t.Errorf("ENTRYPOINT %q and AIRBYTE_ENTRYPOINT %q: want both /source-pluggy, the binary the platform's script evaluates", entrypoint, airbyteEntrypoint)
	}
	if labels["io.airbyte.name"] != "source-pluggy" || labels["io.airbyte.version"] != "${VERSION}" {
		t.Errorf("labels %v: want io.airbyte.name=source-pluggy and io.airbyte.version=${VERSION}", labels)
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric uid other than 0, which runAsNonRoot can verify", user)
	}
}
