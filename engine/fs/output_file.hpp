#pragma once
// Files the user asked for outside the workspace (reports, exports, failure logs): written
// whole or not at all. Below every layer that writes one (report/, command/, cli/).
#include <string>
#include <vector>

namespace cachestress::fs {

// Writes text to path atomically (temp file in the same directory + rename); never leaves
// a half-written file. Throws EnvironmentError on failure.
void write_atomically(const std::string& path, const std::string& text);
// Same, but never replaces an existing file: returns false when path already exists.
bool write_new_file(const std::string& path, const std::string& text);
// Checked before a run starts, so a report that cannot be written costs no run: the
// directory of path must exist and be writable and path must not be a directory.
// Throws EnvironmentError naming the path.
void check_output_path(const std::string& path);
// A device, FIFO or socket (`--out /dev/null`, a named pipe), or a symlink of the system's
// (`/dev/stdout`, `/proc/self/fd/1`) even when it leads to a file: written in place, once,
// and nothing can sit beside it (no /dev/null.csv, no /dev/stdout.d/failures/).
bool is_stream(const std::string& path);
// True when path is the file open on `fd` (`--out /dev/stdout` with stdout redirected to
// o.json): written through fd, at its offset, not opened again from offset 0 over what was
// printed there.
bool is_open_as(const std::string& path, int fd);

// A file named by a flag: what it is called in messages ("--junit") and its path.
struct NamedPath {
  std::string flag;
  std::string path;
};
// Refuses (InputError, exit 2) an output that is the same file as another output or as an
// input (`--out r.json --junit r.json`, `--out my.toml` over the scenario it runs, `report
// a.json -o a.json`): one would destroy the other. Paths are compared after resolving `..`
// and symlinks; devices and pipes (`/dev/null` twice) never clash.
void check_distinct(const std::vector<NamedPath>& outputs, const std::vector<NamedPath>& inputs);

// Throws InputError when an output (or the folder of failure logs beside it) would be
// `workspace` (--workdir) or lie inside it, which the run empties when it ends: the logs
// would be deleted and the report would name them.
void check_outside(const std::vector<NamedPath>& outputs, const NamedPath& workspace);

}  // namespace cachestress::fs
