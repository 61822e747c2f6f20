# shellcheck shell=sh
# shellcheck disable=SC3043 # `local`, as OpenWrt's busybox ash has it
# Test stand-ins for what OpenWrt's /etc/rc.common gives an init script
# (/lib/functions.sh, /lib/functions/procd.sh): the UCI config API with the
# semantics of OpenWrt's (config_load reads $UCI_CONFIG_DIR/PACKAGE, a file
# in UCI's own format, which is shell: `config`, `option`, `list` calls),
# and procd, user and chown helpers that only append what they were asked
# to $HARNESS_LOG, one call a line.

harness_log() {
	printf '%s\n' "$*" >>"$HARNESS_LOG"
}

# ---------------------------------------------------------------- UCI

CONFIG_SECTIONS=
CONFIG_NUM_SECTIONS=0
CONFIG_SECTION=
CONFIG_LIST_STATE=

config() {
	local type="$1" name="$2"
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	[ -n "$name" ] || name="cfg$CONFIG_NUM_SECTIONS"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $name"
	CONFIG_SECTION="$name"
	eval "CONFIG_${name}_TYPE=\$type"
}

option() {
	eval "CONFIG_${CONFIG_SECTION}_$1=\$2"
}

list() {
	local len
	eval "len=\${CONFIG_${CONFIG_SECTION}_$1_LENGTH:-0}"
	[ "$len" = 0 ] && CONFIG_LIST_STATE="$CONFIG_LIST_STATE ${CONFIG_SECTION}_$1"
	len=$((len + 1))
	eval "CONFIG_${CONFIG_SECTION}_$1_ITEM$len=\$2"
	eval "CONFIG_${CONFIG_SECTION}_$1_LENGTH=\$len"
	# As OpenWrt's: config_get of a list gives its items space-separated.
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${CONFIG_${CONFIG_SECTION}_$1:+\${CONFIG_${CONFIG_SECTION}_$1} }\$2\""
}

package() {
	:
}

# As OpenWrt's uci_load: the lists of an earlier load are emptied first, or
# a second load (reload, then start) would hold every item twice.
config_load() {
	local var
	harness_log "config_load $1"
	for var in $CONFIG_LIST_STATE; do
		eval "CONFIG_${var}="
		eval "CONFIG_${var}_LENGTH="
	done
	CONFIG_LIST_STATE=
	CONFIG_SECTIONS=
	CONFIG_NUM_SECTIONS=0
	# shellcheck disable=SC1090
	[ -f "$UCI_CONFIG_DIR/$1" ] && . "$UCI_CONFIG_DIR/$1"
	return 0
}

# config_get VAR SECTION OPTION [DEFAULT]: the default also for an empty value, as OpenWrt's.
config_get() {
	eval "$1=\${CONFIG_$2_$3:-\$4}"
}

config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in
	1 | on | true | yes | enabled) _tmp=1 ;;
	0 | off | false | no | disabled) _tmp=0 ;;
	*) _tmp="$4" ;;
	esac
	eval "$1=\$_tmp"
}

config_list_foreach() {
	local section="$1" option="$2" function="$3" val len c=1
	shift 3
	config_get len "$section" "${option}_LENGTH"
	[ -n "$len" ] || return 0
	while [ "$c" -le "$len" ]; do
		config_get val "$section" "${option}_ITEM$c"
		"$function" "$val" "$@"
		c=$((c + 1))
	done
}

config_foreach() {
	local function="$1" type="$2" section section_type
	shift 2
	for section in $CONFIG_SECTIONS; do
		config_get section_type "$section" TYPE
		[ "$section_type" = "$type" ] || continue
		"$function" "$section" "$@"
	done
}

# ---------------------------------------------------------------- procd

procd_open_service() { harness_log "procd_open_service $*"; }
procd_close_service() { harness_log "procd_close_service"; }
procd_open_instance() { harness_log "procd_open_instance $*"; }
procd_close_instance() { harness_log "procd_close_instance"; }
procd_set_param() { harness_log "procd_set_param $*"; }
procd_add_jail() { harness_log "procd_add_jail $*"; }
procd_add_jail_mount() { harness_log "procd_add_jail_mount $*"; }
procd_add_jail_mount_rw() { harness_log "procd_add_jail_mount_rw $*"; }
procd_send_signal() { harness_log "procd_send_signal $*"; }
procd_kill() { harness_log "procd_kill $*"; }
procd_open_trigger() { harness_log "procd_open_trigger"; }
procd_close_trigger() { harness_log "procd_close_trigger"; }
procd_add_reload_trigger() { harness_log "procd_add_reload_trigger $*"; }

# ---------------------------------------------------------------- users, files

group_exists() { harness_log "group_exists $*"; return 1; }
group_add() { harness_log "group_add $*"; }
user_exists() { harness_log "user_exists $*"; return 1; }
user_add() { harness_log "user_add $*"; }
chown() { harness_log "chown $*"; }
