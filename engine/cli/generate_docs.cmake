# Writes the man page and the bash completion from the CLI's own help, so they cannot
# drift from it. Run at build time: cmake -DBIN=<cachestress> -DMAN=<out.1> -DCOMPLETION=<out> -DVERSION=<v> -P this
foreach(var BIN MAN COMPLETION VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "generate_docs.cmake: -D${var}= is required")
  endif()
endforeach()

function(help_of out)
  execute_process(COMMAND ${BIN} ${ARGN} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BIN} ${ARGN} --help exited ${rc}")
  endif()
  # The build path of the binary is not what a user types.
  string(REGEX REPLACE "Usage: [^ \n]*cachestress" "Usage: cachestress" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The options a help text declares: every name of an option line ("-o,--out", "--min-effect,
# --threshold": short names and aliases too), at the start of the line only (not the ones its
# descriptions mention). A subcommand accepts these and no others (not the run's -v, -q).
function(options_of out text)
  string(REGEX MATCHALL "\n +-[-a-zA-Z0-9,]+" found "${text}")
  set(names "")
  foreach(item IN LISTS found)
    string(STRIP "${item}" item)
    string(REPLACE "," ";" item "${item}")
    list(APPEND names ${item})
  endforeach()
  list(REMOVE_DUPLICATES names)
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

# roff: backslashes first, then a leading . or ' would be a request, - is a hyphen.
function(roff_escape out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

help_of(main_help)
# Subcommands: the lines under "Subcommands:" up to the next blank line.
string(REGEX MATCH "Subcommands:\n([^\n]+\n)+" sub_block "${main_help}")
string(REGEX MATCHALL "\n  ([a-z][a-z-]*) " sub_lines "${sub_block}")
set(subcommands "")
foreach(line IN LISTS sub_lines)
  string(STRIP "${line}" name)
  list(APPEND subcommands "${name}")
endforeach()
if(NOT subcommands)
  message(FATAL_ERROR "no subcommands found in the help text")
endif()

roff_escape(main_roff "${main_help}")
set(man ".TH CACHESTRESS 1 \"\" \"cachestress ${VERSION}\" \"User Commands\"\n")
string(APPEND man ".SH NAME\ncachestress \\- concurrency stress tester for shared build-cache mounts (Buildah, BuildKit)\n")
string(APPEND man ".SH SYNOPSIS\n.B cachestress\n[\\fIOPTIONS\\fR] [\\fISUBCOMMAND\\fR]\n")
string(APPEND man ".SH DESCRIPTION\nThe text below is the program's own \\fB\\-\\-help\\fR.\n.PP\n.nf\n${main_roff}.fi\n")
set(all_options "")
options_of(main_options "${main_help}")
list(APPEND all_options ${main_options})
foreach(sub IN LISTS subcommands)
  help_of(sub_help ${sub})
  roff_escape(sub_roff "${sub_help}")
  string(APPEND man ".SH \"cachestress ${sub}\"\n.nf\n${sub_roff}.fi\n")
  options_of(sub_options "${sub_help}")
  string(REPLACE ";" " " sub_words "${sub_options}")
  string(APPEND cases "    ${sub}) words=\"${sub_words}\" ;;\n")
endforeach()
string(APPEND man ".SH FILES\nDocumentation, the results schema and the scenario reference: /usr/share/doc/cachestress/\n")
file(WRITE ${MAN} "${man}")

list(REMOVE_DUPLICATES all_options)
string(REPLACE ";" " " option_words "${all_options}")
string(REPLACE ";" " " sub_words "${subcommands}")
string(REPLACE ";" "|" sub_pattern "${subcommands}")
file(WRITE ${COMPLETION} "# bash completion for cachestress, generated from its --help at build time
_cachestress() {
  local cur=\${COMP_WORDS[COMP_CWORD]} sub='' words i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in ${sub_pattern}) sub=\${COMP_WORDS[i]}; break ;; esac
  done
  case \$sub in
${cases}    *) words=\"${sub_words} ${option_words}\" ;;
  esac
  case \${COMP_WORDS[COMP_CWORD-1]} in
    --scenario) COMPREPLY=(\$(compgen -f -X '!*.toml' -- \"\$cur\") \$(compgen -W \"\$(cachestress list 2>/dev/null | awk '{print \$1}')\" -- \"\$cur\")); return ;;
    -o|--out|--junit|--workdir) COMPREPLY=(\$(compgen -f -- \"\$cur\")); return ;;
  esac
  COMPREPLY=(\$(compgen -W \"\$words\" -- \"\$cur\"))
}
complete -o default -F _cachestress cachestress
")
