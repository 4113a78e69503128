// cachestress: event-driven concurrency stress tester for shared build-cache mounts.
#include "engine/cli/cli.hpp"

int main(int argc, char** argv) { return cachestress::cli::main(argc, argv); }
