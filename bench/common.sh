# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the sourcing script
# Sourced by the bench scripts (ratios.sh, process_overhead.sh, compare_reference.sh,
# memory_figures.sh): the options they share (-b BUILD_DIR, -w WORK_BASE, -h), the
# defaults, where the programs are, and the checks that they and the tools are there.
# A script sets `bench_name` and `usage()`, sources this file, and in its getopts loop
# passes every option it does not know itself to `bench_option`:
#
#   while getopts "b:n:w:h" opt; do
#     case $opt in
#       n) builds=$OPTARG ;;
#       *) bench_option "$opt" "${OPTARG-}" ;;
#     esac
#   done
#   bench_resolve
#   bench_need_programs "$engine"; bench_need_tools jq time

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build/dev
work_base=""

# -b, -w and -h; anything else is a usage error (exit 2).
bench_option() {
  case $1 in
    b) build_dir=$2 ;;
    w) work_base=$2 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
}

# After the options: an absolute build directory, the engine's path, and the workspace
# base (a tmpfs by default, so figures measure the engine's cost rather than the disk's).
bench_resolve() {
  if [[ -z $work_base ]]; then
    if [[ -d /dev/shm && -w /dev/shm ]]; then work_base=/dev/shm; else work_base=${TMPDIR:-/tmp}; fi
  fi
  [[ $build_dir = /* ]] || build_dir=$repo_root/$build_dir
  engine=$build_dir/cachestress
}

# Exit 2 naming the first program that is not built.
bench_need_programs() {
  local program
  for program in "$@"; do
    [[ -x $program ]] || {
      echo "$bench_name: $program not built (cmake --build $build_dir --target cachestress reference_locked reference_shared reference_spawn)" >&2
      exit 2
    }
  done
}

# Exit 2 naming the first missing tool: jq, or time (GNU time, /usr/bin/time).
bench_need_tools() {
  local tool
  for tool in "$@"; do
    case $tool in
      time) [[ -x /usr/bin/time ]] || { echo "$bench_name: needs GNU time (apt-get install time)" >&2; exit 2; } ;;
      *) command -v "$tool" >/dev/null || { echo "$bench_name: needs $tool (apt-get install $tool)" >&2; exit 2; } ;;
    esac
  done
}
