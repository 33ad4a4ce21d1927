# scripts/deps.sh - sourced by scripts/test and scripts/demo: installs the
# Debian packages porthole builds and tests with, when any is missing.
# Needs root (or sudo) only when something is missing.
# asciinema (record test: `asciinema cat`) and prometheus (metrics test:
# `promtool check metrics`; ~23 MB download, ~330 MB installed with its
# web UI's JavaScript, which --no-install-recommends cannot leave out).

PORTHOLE_BUILD_DEPS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev
 libwebsockets-dev libssl-dev libjansson-dev libedit-dev libcriterion-dev
 libzstd-dev libcap-dev zlib1g-dev openssl procps iproute2 coreutils
 jq curl file python3 tmux util-linux gdb zstd binutils
 openssh-server openssh-client busybox-static
 asciinema prometheus openjdk-17-jdk-headless nodejs"
# openssh-server, openssh-client: bench/run's peer; busybox-static: the
# static program of static_root.sh's empty root.  asciinema, prometheus
# (promtool), openjdk-17-jdk-headless (java, javac) and nodejs: test-only
# (record.sh, metrics.sh, dump_jvm.sh, dump_node.sh).

ph_install_deps() {
	local missing="" p
	for p in $PORTHOLE_BUILD_DEPS ${PORTHOLE_EXTRA_DEPS:-}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "scripts: installing:$missing" >&2
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
