package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	st "github.com/source-pluggy/source-pluggy/connector/source/sourcetest"
)

// dockerStage is one stage of a Dockerfile: its FROM image, as written,
// its name (AS), and its instructions, continuation lines joined.
type dockerStage struct {
	from, name string
	lines      []string
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
			if len(fields) > 1 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:]
			}
			stage := dockerStage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				stage.name = fields[2]
			}
			stages = append(stages, stage)
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

// TestDockerfileRunsUnderAirbyte checks each connector's image target
// (source-pluggy, the default, and the stages named after the other two)
// against what the Airbyte platform does with a connector image: its
// launcher starts the container with sh -c and a script that evaluates
// "$AIRBYTE_ENTRYPOINT read --config …" (so the base must have a shell,
// and AIRBYTE_ENTRYPOINT must name the connector), it names and versions
// the connector from the io.airbyte labels, and Kubernetes' runAsNonRoot
// needs a numeric non-root USER. A scratch or distroless base has no sh:
// every Airbyte job failed before the connector started. And GoCardless
// and Enable Banking had no image at all.
func TestDockerfileRunsUnderAirbyte(t *testing.T) {
	args, stages := parseDockerfile(t, filepath.Join(st.RepoRoot(), "Dockerfile"))
	if len(stages) == 0 {
		t.Fatal("the Dockerfile has no FROM")
	}
	if last := stages[len(stages)-1]; last.name != "source-pluggy" {
		t.Errorf("the default target (the last stage) is %q, want source-pluggy", last.name)
	}
	for _, connector := range []string{"source-pluggy", "source-gocardless-bank-data", "source-enablebanking"} {
		t.Run(connector, func(t *testing.T) {
			i := slices.IndexFunc(stages, func(s dockerStage) bool { return s.name == connector })
			if i < 0 {
				t.Fatalf("no stage named %s: `docker build --target %s` builds nothing", connector, connector)
			}
			checkConnectorStage(t, connector, stages[i], args)
		})
	}
}

// checkConnectorStage checks the image stage of connector, whose FROM may
// name ${NAME} or ${NAME:-default}, resolved from the global ARGs.
func checkConnectorStage(t *testing.T, connector string, stage dockerStage, args map[string]string) {
	argRef := regexp.MustCompile(`\$\{(\w+)(?::-([^}]*))?\}`)
	base := argRef.ReplaceAllStringFunc(stage.from, func(ref string) string {
		m := argRef.FindStringSubmatch(ref)
		if v := args[m[1]]; v != "" {
			return v
		}
		return m[2]
	})
	if base == "scratch" || strings.Contains(base, "distroless") || base == "" {
		t.Errorf("built FROM %s (%q): an image without sh, which Airbyte's launcher starts with sh -c; base it on one with a shell (busybox)", stage.from, base)
	}
	var entrypoint, airbyteEntrypoint, user string
	var copied bool
	labels := map[string]string{}
	for _, ins := range stage.lines {
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
		case "COPY":
			copied = copied || rest == "--from=rootfs /rootfs/"+connector+"/ /"
		}
	}
	if !copied {
		t.Errorf("the stage does not copy /rootfs/%s/ (the files .ci/container.sh rootfs lays out for it)", connector)
	}
	if entrypoint != "/"+connector || airbyteEntrypoint != entrypoint {
		t.Errorf("ENTRYPOINT %q and AIRBYTE_ENTRYPOINT %q: want both /%s, the binary the platform's script evaluates", entrypoint, airbyteEntrypoint, connector)
	}
	if labels["io.airbyte.name"] != connector || labels["io.airbyte.version"] != "${VERSION}" {
		t.Errorf("labels %v: want io.airbyte.name=%s and io.airbyte.version=${VERSION}", labels, connector)
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric uid other than 0, which runAsNonRoot can verify", user)
	}
}
