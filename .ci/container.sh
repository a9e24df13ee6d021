#!/bin/sh
# The container image, proved without a Docker engine or a registry.
#
#   .ci/container.sh              check the binary links no fake (the demo is the fakes' command),
#                                 build the Dockerfile with buildah (vfs storage, chroot isolation),
#                                 run spec, an Airbyte read (started as Airbyte starts it: sh -c and
#                                 $AIRBYTE_ENTRYPOINT) and a Singer sync inside the image against
#                                 the fake on loopback, check its labels, env, user and files, then
#                                 the cron target's state round
#                                 trip. Installs buildah with apt-get when it can; otherwise prints
#                                 SKIP and exits 0. With CONTAINER_FULL=1 it also builds the image
#                                 through the Dockerfile's own Go build stage, on a local Go base
#                                 (busybox and this host's Go toolchain, modules from its cache).
#   .ci/container.sh rootfs DIR   lay out each connector image's files in DIR/<connector> (source-pluggy,
#                                 source-gocardless-bank-data, source-enablebanking): the static binary (env VERSION,
#                                 GOOS, GOARCH; GO_BUILD_FLAGS, default -trimpath), its tap- link, CA certificates, /etc/passwd
#                                 with the user airbyte (1000), /tmp. The Dockerfile's build stage
#                                 runs exactly this, so both ways build the same files.
#
# Registry bases (golang, busybox) cannot be pulled here, so the check builds
# with --build-arg ROOTFS=prebuilt (the files laid out on this host by the
# same rootfs step) and a busybox base made from Debian's busybox-static. The
# Dockerfile's stages, labels, env, user and entrypoint are the ones a normal
# `docker build` uses. POSIX sh: the build stage may only have busybox.
# Everything buildah creates is removed at exit (what existed before is kept).
set -eu

# The connectors, each the binary of one image target (the Dockerfile's
# stages of the same names; source-pluggy is also the default target).
connectors="source-pluggy source-gocardless-bank-data source-enablebanking"

# rootfs DIR lays out every connector's image files in DIR/<connector>.
rootfs() {
	dir=$1
	certs=/etc/ssl/certs/ca-certificates.crt
	if [ ! -s "$certs" ]; then
		echo "container.sh: $certs is missing; install ca-certificates" >&2
		exit 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	chmod 0755 "$dir"
	for c in $connectors; do
		connector_rootfs "$dir/$c" "$c" "$certs"
	done
}

# connector_rootfs ROOT CONNECTOR CERTS lays out one image's files in ROOT:
# the static binary, its tap- link, the CA certificates, the user airbyte.
connector_rootfs() {
	root=$1
	c=$2
	version=${VERSION:-0.1.0}
	mkdir -p "$root/etc/ssl/certs" "$root/tmp"
	# shellcheck disable=SC2086 # GO_BUILD_FLAGS is a list of flags
	CGO_ENABLED=0 go build ${GO_BUILD_FLAGS--trimpath} -buildvcs=false \
		-ldflags "-s -w -X github.com/source-pluggy/source-pluggy/connector/source.Version=$version" \
		-o "$root/$c" "./cmd/$c"
	ln -s "$c" "$root/tap-${c#source-}"
	cp "$3" "$root/etc/ssl/certs/ca-certificates.crt"
	# airbyte's home is /tmp: the one writable directory of a read-only image.
	cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
airbyte:x:1000:1000:airbyte:/tmp:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
	cat >"$root/etc/group" <<'EOF'
root:x:0:
airbyte:x:1000:
nobody:x:65534:
EOF
	chmod 0755 "$root" "$root/etc" "$root/$c"
	chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/ssl/certs/ca-certificates.crt"
	chmod 1777 "$root/tmp"
}

if [ "${1:-}" = rootfs ]; then
	[ $# -eq 2 ] || { echo "usage: $0 rootfs DIR" >&2; exit 2; }
	rootfs "$2"
	exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [rootfs DIR]" >&2; exit 2; }

cd "$(dirname "$0")/.."
start=$(date +%s)
last=$start
step() {
	now=$(date +%s)
	echo "== container: $* (at +$((now - start))s, previous step $((now - last))s)"
	last=$now
}
fail() {
	echo "container.sh: FAIL: $*" >&2
	exit 1
}
skip() {
	echo "SKIP container check: $*"
	exit 0
}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# --- buildah --------------------------------------------------------------
if ! command -v buildah >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		command -v buildah >/dev/null 2>&1 || skip "buildah is not installed, and installing it needs root and apt-get (apt-get install buildah busybox-static)"
		skip "busybox is not installed, and installing it needs root and apt-get (apt-get install busybox-static)"
	fi
	step "installing buildah and busybox-static with apt-get"
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		buildah busybox-static ca-certificates; } >"$logs/apt.log" 2>&1; then
		tail -n 5 "$logs/apt.log"
		skip "apt-get could not install buildah and busybox-static (see the lines above)"
	fi
fi
B="buildah --storage-driver vfs"

# Can buildah work here at all (an unprivileged container may not let it)?
if ! probe=$($B from scratch 2>"$logs/probe.log"); then
	tail -n 3 "$logs/probe.log"
	skip "buildah cannot create a container in this environment (see the lines above)"
fi
$B rm "$probe" >/dev/null
$B --version

work=out/container
image=localhost/source-pluggy:ci
other_images="localhost/source-gocardless-bank-data:ci localhost/source-enablebanking:ci"
cron_image=localhost/source-pluggy:ci-cron
busybox_image=localhost/source-pluggy-ci-busybox:latest
full_image=localhost/source-pluggy:ci-full
go_image=localhost/source-pluggy-ci-go:latest
ctr=
fake_pid=
# buildah leaves the working container of a `FROM <stage> AS alias` stage and
# intermediate stage images behind: remove whatever was not there before.
containers_before=" $($B containers -aq --notruncate | tr '\n' ' ') "
images_before=" $($B images -aq --no-trunc | tr '\n' ' ') "
cleanup() {
	set +e
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	for c in $($B containers -aq --notruncate); do
		case $containers_before in *" $c "*) ;; *) $B rm "$c" >/dev/null 2>&1 ;; esac
	done
	for i in $image $other_images $cron_image $busybox_image $full_image $go_image; do $B rmi "$i" >/dev/null 2>&1; done
	for i in $($B images -aq --no-trunc); do
		case $images_before in *" $i "*) ;; *) $B rmi -f "$i" >/dev/null 2>&1 ;; esac
	done
	rm -rf "$work" "$logs"
	rmdir out 2>/dev/null
}
trap cleanup EXIT INT TERM


# --- build ------------------------------------------------------------------
# The images ship the connectors only: no fake API, no demo (those are
# the fakes', `go run ./cmd/fake-pluggy demo`).
for c in $connectors; do
	step "checking that the image's binary links no fake code (go list -deps ./cmd/$c)"
	if go list -deps "./cmd/$c" | grep -E '/fake(/|$)|/connector/(fakeserver|demo)$'; then
		fail "./cmd/$c links the packages above: fakes and the demo stay out of the image"
	fi
done
version=${VERSION:-0.1.0}
step "laying out the image files (static binary, version $version)"
rm -rf "$work"
mkdir -p "$work"
# Without -trimpath the build reuses the cache the tests just filled
# (-trimpath recompiles every dependency: minutes on a small CI machine).
VERSION=$version GO_BUILD_FLAGS= sh .ci/container.sh rootfs "$work/rootfs"

# The default target's base is busybox (Airbyte starts the container with
# sh -c); the registry's cannot be pulled here, so a local one stands in.
step "building a local busybox base from busybox-static"
bctr=$($B from scratch)
ctr=$bctr
$B copy "$bctr" "$(command -v busybox)" /bin/busybox >/dev/null
$B run --isolation chroot "$bctr" -- /bin/busybox sh -c 'busybox --install -s /bin && mkdir -p /tmp && chmod 1777 /tmp'
$B config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$bctr" # as the registry's busybox sets it
$B commit --quiet "$bctr" "$busybox_image" >/dev/null
$B rm "$bctr" >/dev/null
ctr=

step "buildah bud (default target, ROOTFS=prebuilt, FROM the local busybox)"
$B bud --isolation chroot --build-arg ROOTFS=prebuilt --build-arg BASE_IMAGE="$busybox_image" --build-arg VERSION="$version" \
	-t "$image" -f Dockerfile . >"$work/bud.log" 2>&1 || { cat "$work/bud.log"; fail "buildah bud"; }
grep -iq 'pulling\|trying to pull' "$work/bud.log" && { cat "$work/bud.log"; fail "the build pulled an image; it must use only local bases"; }

# --- image metadata -----------------------------------------------------------
step "checking labels, env, user and entrypoint (buildah inspect)"
meta=$($B inspect --type image --format '{{index .OCIv1.Config.Labels "io.airbyte.name"}}|{{index .OCIv1.Config.Labels "io.airbyte.version"}}|{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Env}}' "$image")
echo "   $meta"
case $meta in
"source-pluggy|$version|1000:1000|[/source-pluggy]|"*AIRBYTE_ENTRYPOINT=/source-pluggy[]\ ]*) ;;
*) fail "image metadata: want io.airbyte.name=source-pluggy, io.airbyte.version=$version, user 1000:1000, entrypoint [\"/source-pluggy\"], AIRBYTE_ENTRYPOINT=/source-pluggy" ;;
esac

ctr=$($B from "$image")
mnt=$($B mount "$ctr")
grep -q '^airbyte:x:1000:1000:' "$mnt/etc/passwd" || fail "no user airbyte (1000) in /etc/passwd"
[ -s "$mnt/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates"
[ "$(readlink "$mnt/tap-pluggy")" = source-pluggy ] || fail "/tap-pluggy is not a link to source-pluggy"
[ -d "$mnt/tmp" ] && [ -k "$mnt/tmp" ] || fail "/tmp is not a sticky world-writable directory"
echo "   files: $(cd "$mnt" && find . -mindepth 1 -maxdepth 3 -not -path './bin/*' | sort | tr '\n' ' ')"
[ -x "$mnt/bin/sh" ] || [ -L "$mnt/bin/sh" ] || fail "no /bin/sh: Airbyte starts the connector's container with sh -c"
echo "   size: $(du -sh "$mnt" | cut -f1) unpacked"
$B umount "$ctr" >/dev/null

# JSON checks with whatever the host has: jq, python3, or the line's shape.
json_lines() {
	if command -v jq >/dev/null 2>&1; then
		jq -e . >/dev/null
	elif command -v python3 >/dev/null 2>&1; then
		python3 -c 'import json,sys
for l in sys.stdin: json.loads(l)'
	else
		! grep -v '^{.*}$' >/dev/null
	fi
}

run() { $B run --isolation chroot "$ctr" -- "$@"; }

# --- inside the image -----------------------------------------------------------
step "running spec inside the image (as $(run /source-pluggy version 2>&1 | head -n 1))"
run /source-pluggy spec >"$work/spec.jsonl"
[ "$(wc -l <"$work/spec.jsonl")" -eq 1 ] || fail "spec printed $(wc -l <"$work/spec.jsonl") lines, want 1"
grep -q '^{"type":"SPEC","spec":{' "$work/spec.jsonl" || fail "spec did not print a SPEC message: $(head -c 200 "$work/spec.jsonl")"
json_lines <"$work/spec.jsonl" || fail "the SPEC message is not valid JSON"

step "running tap-pluggy --about --format=json inside the image"
run /tap-pluggy --about --format=json >"$work/about.json"
json_lines <"$work/about.json" || tr -d '\n' <"$work/about.json" | json_lines || fail "--about is not JSON"
grep -q '"name": "tap-pluggy"' "$work/about.json" || fail "--about does not name tap-pluggy"

# A fake Pluggy API on this host's loopback, which chroot isolation shares.
step "starting the fake Pluggy API on loopback"
go build -o "$work/fake-pluggy" ./cmd/fake-pluggy
"$work/fake-pluggy" --items 2 --transactions 50 >"$work/fake.json" 2>"$work/fake.err" &
fake_pid=$!
i=0
while [ ! -s "$work/fake.json" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the fake did not start: $(cat "$work/fake.err")"
	sleep 0.1
done
base_url=$(sed 's/.*"base_url":"\([^"]*\)".*/\1/' "$work/fake.json")
mkdir -p "$work/data"
sed 's/}$/,"requests_per_minute":0,"lookback_days":0}/' "$work/fake.json" >"$work/data/config.json"
chmod -R a+rwX "$work/data"
post() {
	if command -v curl >/dev/null 2>&1; then curl -fsS -X POST "$1" >/dev/null; else busybox wget -q -O /dev/null --post-data= "$1"; fi
}

# Started as Airbyte's workload launcher starts a source: the command
# `sh -c` (resolved on the image's PATH) with a script that evaluates
# "$AIRBYTE_ENTRYPOINT read ..." in the background, polls with sleep, waits
# and writes the exit code.
step "Airbyte read inside the image, started as Airbyte starts it (sh -c, eval \"\$AIRBYTE_ENTRYPOINT read ...\")"
cp catalogs/pluggy_incremental.json "$work/data/catalog.json"
chmod a+r "$work/data/catalog.json"
# shellcheck disable=SC2016 # expanded by the image's shell
$B run --isolation chroot --volume "$PWD/$work/data:/data" "$ctr" -- sh -c '
	[ -n "$AIRBYTE_ENTRYPOINT" ] || { echo "AIRBYTE_ENTRYPOINT is not set in the image" >&2; exit 127; }
	(eval "$AIRBYTE_ENTRYPOINT read --config /data/config.json --catalog /data/catalog.json") &
	CHILD_PID=$!
	sleep 0 || exit 127
	wait $CHILD_PID
	EXIT_CODE=$?
	echo $EXIT_CODE >/tmp/exitCode.txt
	exit $EXIT_CODE' >"$work/read.jsonl" 2>"$work/read.err" || { cat "$work/read.err"; tail -n 5 "$work/read.jsonl"; fail "the Airbyte-style read exited non-zero"; }
json_lines <"$work/read.jsonl" || fail "source-pluggy read printed a line that is not JSON"
n_record=$(grep -c '^{"type":"RECORD"' "$work/read.jsonl" || true)
n_state=$(grep -c '^{"type":"STATE"' "$work/read.jsonl" || true)
echo "   $n_record RECORD, $n_state STATE messages"
[ "$n_record" -gt 0 ] && [ "$n_state" -gt 0 ] || fail "the Airbyte read is missing RECORD or STATE messages"
if run /source-pluggy demo >/dev/null 2>&1; then fail "the image's source-pluggy has a demo command: the demo belongs to cmd/fake-pluggy"; fi

step "Singer sync inside the image (tap-pluggy against the fake)"
$B run --isolation chroot --volume "$PWD/$work/data:/data" "$ctr" -- /tap-pluggy --config /data/config.json \
	>"$work/singer.jsonl" 2>"$work/singer.err" || { cat "$work/singer.err"; fail "tap-pluggy exited non-zero"; }
json_lines <"$work/singer.jsonl" || fail "tap-pluggy printed a line that is not JSON"
n_schema=$(grep -c '^{"type":"SCHEMA"' "$work/singer.jsonl" || true)
n_record=$(grep -c '^{"type":"RECORD"' "$work/singer.jsonl" || true)
n_state=$(grep -c '^{"type":"STATE","value":{"bookmarks":' "$work/singer.jsonl" || true)
echo "   $n_schema SCHEMA, $n_record RECORD, $n_state STATE messages"
[ "$n_schema" -gt 0 ] && [ "$n_record" -gt 0 ] && [ "$n_state" -gt 0 ] || fail "the Singer sync is missing SCHEMA, RECORD or STATE messages"
! grep -q CRITICAL "$work/singer.err" || fail "tap-pluggy logged CRITICAL: $(cat "$work/singer.err")"

$B rm "$ctr" >/dev/null
ctr=

# --- the other connectors' targets: metadata, files, and spec as Airbyte runs it -------------
for c in source-gocardless-bank-data source-enablebanking; do
	img=localhost/$c:ci
	step "buildah bud --target $c, then its labels, env, user, entrypoint, tap link and spec"
	$B bud --isolation chroot --target "$c" --build-arg ROOTFS=prebuilt --build-arg BASE_IMAGE="$busybox_image" \
		--build-arg VERSION="$version" -t "$img" -f Dockerfile . >"$work/bud-$c.log" 2>&1 || { cat "$work/bud-$c.log"; fail "buildah bud --target $c"; }
	meta=$($B inspect --type image --format '{{index .OCIv1.Config.Labels "io.airbyte.name"}}|{{index .OCIv1.Config.Labels "io.airbyte.version"}}|{{.OCIv1.Config.User}}|{{.OCIv1.Config.Entrypoint}}|{{.OCIv1.Config.Env}}' "$img")
	echo "   $meta"
	case $meta in
	"$c|$version|1000:1000|[/$c]|"*AIRBYTE_ENTRYPOINT=/$c[]\ ]*) ;;
	*) fail "image metadata of $c: want io.airbyte.name=$c, io.airbyte.version=$version, user 1000:1000, entrypoint [\"/$c\"], AIRBYTE_ENTRYPOINT=/$c" ;;
	esac
	ctr=$($B from "$img")
	mnt=$($B mount "$ctr")
	[ "$(readlink "$mnt/tap-${c#source-}")" = "$c" ] || fail "/tap-${c#source-} is not a link to $c"
	[ ! -e "$mnt/source-pluggy" ] || fail "the $c image holds source-pluggy too"
	$B umount "$ctr" >/dev/null
	# shellcheck disable=SC2016 # expanded by the image's shell
	run sh -c 'eval "$AIRBYTE_ENTRYPOINT spec"' >"$work/spec-$c.jsonl" || fail "$c spec through sh -c"
	grep -q '^{"type":"SPEC","spec":{' "$work/spec-$c.jsonl" || fail "$c spec did not print a SPEC message: $(head -c 200 "$work/spec-$c.jsonl")"
	$B rm "$ctr" >/dev/null
	ctr=
done

# --- the cron target: docs/operations.md's Kubernetes CronJob script, twice --------------
step "building the cron target on the local busybox base"
$B bud --isolation chroot --target cron --build-arg ROOTFS=prebuilt --build-arg CRON_BASE_IMAGE="$busybox_image" \
	--build-arg VERSION="$version" -t "$cron_image" -f Dockerfile . >"$work/bud-cron.log" 2>&1 || { cat "$work/bud-cron.log"; fail "buildah bud --target cron"; }
ctr=$($B from "$cron_image")

# The script of the CronJob in docs/operations.md ("Kubernetes"), word for word;
# /data is its volume and /etc/pluggy its config Secret.
cat >"$work/data/sync.sh" <<'EOF'
set -u
cd /data
mkdir -p runs
out="runs/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
state=""
[ -s state.json ] && state="--state state.json"
status=0
/tap-pluggy --config /etc/pluggy/config.json $state > "$out" || status=$?
grep '^{"type":"STATE"' "$out" | tail -n 1 > state.json.new
if [ -s state.json.new ]; then mv state.json.new state.json; else rm -f state.json.new; fi
exit $status
EOF
chmod -R a+rwX "$work/data"
cron_run() {
	$B run --isolation chroot --volume "$PWD/$work/data:/data" --volume "$PWD/$work/data:/etc/pluggy:ro" "$ctr" -- /bin/sh /data/sync.sh 2>"$work/cron.err" ||
		{ cat "$work/cron.err"; fail "the cron script exited non-zero"; }
	sleep 1 # one run file per second
	grep -c '"type":"RECORD","stream":"transactions"' "$(ls -t "$work"/data/runs/*.jsonl | head -n 1)" || true
}
step "cron target: first run (no state)"
first=$(cron_run)
[ -s "$work/data/state.json" ] || fail "the first cron run left no state.json"
post "$base_url/__fake/mutate?kind=new&n=3"
step "cron target: second run from state.json after the fake added 3 rows"
second=$(cron_run)
echo "   transactions: first run $first, second run $second"
[ "$first" -gt 0 ] && [ "$second" -ge 3 ] && [ "$second" -lt "$first" ] ||
	fail "the second run read $second transactions after a first of $first; want the 3 new (and a few of the overlap), not everything"

$B rm "$ctr" >/dev/null
ctr=

# --- optional: the Dockerfile's own Go build stage ---------------------------
if [ "${CONTAINER_FULL:-0}" = 1 ]; then
	step "CONTAINER_FULL: a local Go base (busybox + $(go env GOROOT), GOPROXY=off)"
	gctr=$($B from "$busybox_image")
	ctr=$gctr
	$B copy "$gctr" "$(go env GOROOT)" /usr/local/go >/dev/null
	$B copy "$gctr" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
	$B config --env PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env GOPATH=/go --env GOCACHE=/gocache --env GOPROXY=off --env GOTOOLCHAIN=local "$gctr"
	$B commit --quiet "$gctr" "$go_image" >/dev/null
	$B rm "$gctr" >/dev/null
	ctr=
	step "CONTAINER_FULL: buildah bud through the build stage (go mod download, go build in the image)"
	$B bud --isolation chroot --build-arg GO_IMAGE="$go_image" --build-arg VERSION="$version" \
		--build-arg TARGETOS="$(go env GOOS)" --build-arg TARGETARCH="$(go env GOARCH)" \
		--volume "$(go env GOMODCACHE):/go/pkg/mod" --volume "$(go env GOCACHE):/gocache" \
		-t "$full_image" -f Dockerfile . >"$work/bud-full.log" 2>&1 || { cat "$work/bud-full.log"; fail "buildah bud through the build stage"; }
	ctr=$($B from "$full_image")
	run /source-pluggy spec | grep -q '^{"type":"SPEC","spec":{' || fail "the fully built image's spec"
	run /tap-pluggy --version | grep -q "^tap-pluggy $version " || fail "the fully built image's tap-pluggy"
	mnt=$($B mount "$ctr")
	grep -q '^airbyte:x:1000:1000:' "$mnt/etc/passwd" || fail "the fully built image has no user airbyte"
	$B umount "$ctr" >/dev/null
	$B rm "$ctr" >/dev/null
	ctr=
fi

full=""
[ "${CONTAINER_FULL:-0}" = 1 ] && full=", and the Dockerfile's Go build stage"
step "done: image $image checked (no fake linked; labels, env, user, files; spec, an Airbyte read and a Singer sync inside; the other connectors' targets; cron state round trip$full)"
