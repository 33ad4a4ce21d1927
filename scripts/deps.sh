# scripts/deps.sh - sourced by scripts/demo and scripts/test: installs the
# Debian packages porthole needs, when any is missing.  Needs root (or
# sudo) only when something is missing.
#
#   ph_install_deps build        what building and running need (scripts/demo)
#   ph_install_deps build test   and what the tests need besides (scripts/test)
#
# Building: the compiler, meson, and the libraries with their static
# archives (the agent is linked statically; libcurl4-openssl-dev only for
# the relay's S3 artifact store and libhiredis-dev, the relay's Redis codec,
# never the agent); libcriterion-dev because the
# unit tests are part of the default build.  Running the demo needs
# nothing more (the dev relay makes its certificate and keys with the
# OpenSSL library, not the openssl program).

PORTHOLE_BUILD_DEPS="meson ninja-build pkg-config gcc libc6-dev
 libwebsockets-dev libssl-dev libjansson-dev libedit-dev libcriterion-dev
 libzstd-dev libcap-dev zlib1g-dev libcurl4-openssl-dev libhiredis-dev"

# Tests only, about a gigabyte with the JDK and Prometheus:
#   clang, libclang-rt-14-dev: fuzz targets and the sanitizer build;
#   openssl, jq, curl, file, python3, tmux, gdb, zstd, binutils, procps,
#   iproute2, util-linux, coreutils: the e2e scripts' tools;
#   openssh-server, openssh-client: bench/run's peer; busybox-static: the
#   static program of static_root.sh's empty root; asciinema (record.sh:
#   `asciinema cat`), prometheus (metrics.sh: `promtool check metrics`),
#   openjdk-17-jdk-headless (dump_jvm.sh: java, javac), nodejs (dump_node.sh),
#   dpkg-dev (package.sh: scripts/package's dpkg-shlibdeps), zsh and fish
#   (completion.sh: the scripts load and complete in them), man-db and
#   groff-base (help.sh: the man pages render without a warning); npm (s3.sh:
#   the pinned packages of tests/tools/s3, installed into a cache by
#   tests/tools/s3/install.sh: s3rver and AWS's SigV4 signer);
#   redis-server and haproxy (the fleet tests and idle.sh: a real Redis,
#   HAProxy in TCP mode as the load balancer); nftables (forward.sh: a port behind a drop
#   rule in a network namespace of the test's own).
PORTHOLE_TEST_DEPS="redis-server haproxy dpkg-dev zsh fish man-db groff-base clang libclang-rt-14-dev openssl procps iproute2 coreutils
 jq curl file python3 tmux util-linux gdb zstd binutils
 openssh-server openssh-client busybox-static nftables
 asciinema prometheus openjdk-17-jdk-headless nodejs"

ph_install_deps() {
	local missing="" p list="" set
	for set in "${@:-build}"; do
		case $set in
		build) list="$list $PORTHOLE_BUILD_DEPS";;
		test) list="$list $PORTHOLE_TEST_DEPS";;
		*) echo "ph_install_deps: unknown set '$set' (build, test)" >&2; return 2;;
		esac
	done
	for p in $list ${PORTHOLE_EXTRA_DEPS:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	# npm: Debian's own package, unless a nodejs that carries npm is there.
	case " $list " in *" nodejs "*)
		command -v npm >/dev/null || missing="$missing npm";;
	esac
	if [ -n "$missing" ]; then
		echo "scripts: installing:$missing" >&2
		local sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
	case " $* " in *" test "*)
		"$(dirname "${BASH_SOURCE[0]}")/../tests/tools/s3/install.sh" >/dev/null;;
	esac
}
