# Shared by the scripts that take riscv64 packages from Debian (fetch-guest.sh,
# rootfs/build-rootfs.sh): a private apt configuration for riscv64 under the cache
# directory, the mirror read at run time from this machine's apt sources (or
# $RVNEST_DEBIAN_MIRROR), the index verified with the machine's Debian archive keyring.
# Nothing of the host's apt state is touched; downloading needs no root.
#
# Source it, with log() and die() defined, then call
#   debian_apt_init CACHE SUITE REFRESH   (REFRESH=1: re-read the index)
# which sets MIRROR, APTDIR and APT_OPTS; then use papt / pcache / candidate / has_pkg /
# papt_download.
# shellcheck shell=bash

# Where the machine's apt sources are (overridable for testing the parser).
APT_ETC=${RVNEST_APT_ETC:-/etc/apt}
KEYRING_DEFAULT=/usr/share/keyrings/debian-archive-keyring.gpg

# ---------------------------------------------------------------------------
# Mirror: the machine's own Debian archive URI, read at run time.
# ---------------------------------------------------------------------------
# Prints "URI<TAB>suite" for every enabled `deb` entry of the machine's sources.
list_sources() {
    local f
    if [[ -f $APT_ETC/sources.list ]]; then
        # One-line format: deb [options] URI suite component...
        sed -e 's/#.*//' "$APT_ETC/sources.list" | awk '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                if (i + 1 <= NF) print $i "\t" $(i + 1)
            }'
    fi
    for f in "$APT_ETC"/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        sed -e 's/#.*//' "$f" | awk '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                if (i + 1 <= NF) print $i "\t" $(i + 1)
            }'
    done
    for f in "$APT_ETC"/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        # deb822: stanzas separated by blank lines; field names are case-insensitive.
        awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled !~ /^(no|false|0)$/ && uris != "") {
                    nu = split(uris, u, " "); ns = split(suites, s, " ")
                    for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++) print u[a] "\t" s[b]
                }
                types = ""; uris = ""; suites = ""; enabled = ""; last = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { if (last == "uris") uris = uris " " $0; else if (last == "suites") suites = suites " " $0; next }
            {
                key = tolower($0); sub(/:.*/, "", key)
                val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                last = key
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "enabled") enabled = tolower(val)
            }
            END { flush() }' "$f"
    done
}

find_mirror() {
    if [[ -n ${RVNEST_DEBIAN_MIRROR:-} ]]; then
        echo "$RVNEST_DEBIAN_MIRROR"
        return
    fi
    local codename=
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true
    # The main archive: a plain Debian suite name (not -security/-updates/-backports),
    # preferring the entry for this machine's own release.
    list_sources | awk -F'\t' -v cn="$codename" '
        $1 ~ /^(cdrom|file):/ { next }
        $2 !~ /^(oldoldstable|oldstable|stable|testing|unstable|sid|experimental|buster|bullseye|bookworm|trixie|forky|duke)$/ { next }
        { sub(/\/+$/, "", $1) }
        $2 == cn && best == "" { best = $1 }
        first == "" { first = $1 }
        END { if (best != "") print best; else if (first != "") print first }'
}


# ---------------------------------------------------------------------------
# Private apt configuration (riscv64 only, nothing of the host's state).
# ---------------------------------------------------------------------------

write_sources() { # $1 = keyring or "trusted"
    local opt
    if [[ $1 == trusted ]]; then opt="trusted=yes"; else opt="signed-by=$1"; fi
    printf 'deb [arch=riscv64 %s] %s %s main\n' "$opt" "$MIRROR" "$SUITE" >"$APTDIR/etc/sources.list.new"
    if ! cmp -s "$APTDIR/etc/sources.list.new" "$APTDIR/etc/sources.list"; then
        mv "$APTDIR/etc/sources.list.new" "$APTDIR/etc/sources.list"
        return 0
    fi
    rm -f "$APTDIR/etc/sources.list.new"
}

papt() { apt-get -q "${APT_OPTS[@]}" "$@"; }
pcache() { apt-cache "${APT_OPTS[@]}" "$@"; }

# Try a keyring: returns 0 if `apt-get update` verified the suite's InRelease with it.
try_update() {
    local out
    write_sources "$1" || true
    if out=$(papt update 2>&1) && ! grep -qE '^(W|E): .*(NO_PUBKEY|not signed|EXPKEYSIG|invalid|Failed)' <<<"$out"; then
        return 0
    fi
    grep -E '^(W|E):' <<<"$out" | head -n 5 >&2
    return 1
}

# A newer debian-archive-keyring from the machine's own (already trusted) sources:
# stable point releases add the keys of newer releases.
newer_machine_keyring() {
    local d=$DEBIAN_APT_CACHE/keyring
    rm -rf "$d" && mkdir -p "$d/dl"
    [[ $(id -u) != 0 ]] || chown _apt "$d/dl" 2>/dev/null || true
    (cd "$d/dl" && apt-get -q download debian-archive-keyring >/dev/null 2>&1) || return 1
    dpkg-deb -x "$d"/dl/debian-archive-keyring_*.deb "$d/root" || return 1
    [[ -s $d/root/usr/share/keyrings/debian-archive-keyring.gpg ]] || return 1
    echo "$d/root/usr/share/keyrings/debian-archive-keyring.gpg"
}

have_lists() { compgen -G "$APTDIR/lists/*_dists_${SUITE}_main_binary-riscv64_Packages*" >/dev/null; }

update_index() {
    log "reading the $SUITE riscv64 index from $MIRROR"
    try_update "$KEYRING_DEFAULT" && return 0
    log "the machine's keyring does not verify $SUITE; trying the newest debian-archive-keyring of this release"
    local k
    if k=$(newer_machine_keyring) && try_update "$k"; then return 0; fi
    if [[ ${RVNEST_APT_TRUSTED:-0} == 1 ]]; then
        log "WARNING: RVNEST_APT_TRUSTED=1: using the $SUITE index WITHOUT signature verification"
        try_update trusted && return 0
    fi
    die "cannot verify the $SUITE index (set RVNEST_APT_TRUSTED=1 to skip signature checks at your own risk)"
}

# debian_apt_init CACHE SUITE REFRESH
debian_apt_init() {
    DEBIAN_APT_CACHE=$1
    SUITE=$2
    MIRROR=$(find_mirror)
    [[ -n $MIRROR ]] || die "no Debian archive found in $APT_ETC/sources.list{,.d/*}; set RVNEST_DEBIAN_MIRROR"
    APTDIR=$DEBIAN_APT_CACHE/apt
    mkdir -p "$APTDIR"/{etc/sources.list.d,etc/preferences.d,lists/partial,archives/partial,state}
    touch "$APTDIR/state/status"
    APT_OPTS=(
        -o "Dir::Etc::SourceList=$APTDIR/etc/sources.list"
        -o "Dir::Etc::SourceParts=$APTDIR/etc/sources.list.d"
        -o "Dir::Etc::Preferences=$APTDIR/etc/preferences"
        -o "Dir::Etc::PreferencesParts=$APTDIR/etc/preferences.d"
        -o "Dir::State=$APTDIR/state"
        -o "Dir::State::Lists=$APTDIR/lists"
        -o "Dir::State::status=$APTDIR/state/status"
        -o "Dir::Cache=$APTDIR"
        -o "Dir::Cache::archives=$APTDIR/archives"
        -o "Dir::Cache::pkgcache=$APTDIR/pkgcache.bin"
        -o "Dir::Cache::srcpkgcache="
        -o APT::Architecture=riscv64
        -o APT::Architectures=riscv64
        -o Acquire::Languages=none
        -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
        -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
        -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
        -o Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false
        -o Acquire::IndexTargets::deb::DEP-11-icons-large::DefaultEnabled=false
        -o Acquire::IndexTargets::deb::DEP-11-icons-large-hidpi::DefaultEnabled=false
        -o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false
        -o Debug::NoLocking=1
    )
    if [[ $3 == 1 ]] || ! have_lists || ! grep -qF " $MIRROR $SUITE " "$APTDIR/etc/sources.list" 2>/dev/null; then
        update_index
    fi
}

candidate() { pcache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }'; }
has_pkg() { local c; c=$(candidate "$1"); [[ -n $c && $c != "(none)" ]]; }

# papt_download DIR PKG...: `apt-get download` into DIR (apt drops privileges to _apt
# for downloads, so a root caller lets it write a staging directory).
papt_download() {
    local dir=$1 stage
    shift
    stage=$dir/.partial
    rm -rf "$stage" && mkdir -p "$stage"
    [[ $(id -u) != 0 ]] || chown _apt "$stage" 2>/dev/null || true
    (cd "$stage" && papt download "$@" >&2)
    mv "$stage"/*.deb "$dir"/
    rmdir "$stage"
}
