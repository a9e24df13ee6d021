package secret

import (
	"regexp"
	"strings"
)

var (
	// privateKeyArmour is the first line of a PEM private key (PKCS#8,
	// PKCS#1 RSA, EC, OpenSSH, encrypted PKCS#8), also where the line
	// breaks around it became spaces or "\n" text.
	privateKeyArmour = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)
	// base64Run is a run of the standard base64 alphabet: a line of a PEM
	// body, or the whole body where its line breaks were lost.
	base64Run = regexp.MustCompile(`[A-Za-z0-9+/=]{16,}`)
)

// PEMSecrets returns what is secret in text holding a PEM private key,
// wherever in a config it was put: the text as written and trimmed, and
// each run of its base64 body of 16 characters or more (each of its
// lines). A key pasted into the wrong field (application_id, beside
// private_key in a form; a list of ids) is no field's secret, and the
// validation message that refuses it quotes the value, trimmed, or cut at
// a comma: its lines are masked in any of those, whether its line breaks
// are kept, spaces, or "\n" text. The armour lines stay readable ("BEGIN
// PRIVATE KEY" says what was pasted), as do words shorter than a line.
// Text with no private key armour gives nothing: a certificate or a
// public key is no secret.
func PEMSecrets(text string) []string {
	if !privateKeyArmour.MatchString(text) {
		return nil
	}
	out := []string{text}
	if t := strings.TrimSpace(text); t != text {
		out = append(out, t)
	}
	// "\n" text is read as a line break first, so that the runs are the
	// key's lines, not "nMIIE…", which a message that quotes the value
	// with its escapes turned into line breaks would not hold.
	return append(out, base64Run.FindAllString(strings.ReplaceAll(text, `\n`, "\n"), -1)...)
}
