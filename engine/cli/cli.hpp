#pragma once

namespace cachestress::cli {

// The whole command line: parses, runs, reports; returns the process exit code.
int main(int argc, char** argv);

}  // namespace cachestress::cli
