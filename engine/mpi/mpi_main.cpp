// cachestress-mpi: the same command line as `cachestress run`, one rank per MPI process:
//   mpirun -n N [--hostfile H] cachestress-mpi --scenario locked --workdir /shared/dir
// Each rank runs its own libuv engine with its share of the builds; rank 0 writes the one
// report. Only this binary links Open MPI.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <exception>
#include <string_view>

#include "engine/cli/cli.hpp"
#include "engine/core/error.hpp"
#include "engine/mpi/mpi_rank_link.hpp"

int main(int argc, char** argv) {
  using namespace cachestress;
  // --backend process runs this same binary as `worker` (the fork server and each build).
  // A worker is not a rank: it must not join the MPI job its parent rank belongs to.
  if (argc > 1 && std::string_view(argv[1]) == "worker") return cli::main(argc, argv);
  int provided = 0;
  // Only the main (loop) thread calls MPI; libuv's threadpool never does.
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "cachestress-mpi: MPI_Init failed (run it under mpirun)\n");
    return static_cast<int>(ExitCode::environment_error);
  }
  std::unique_ptr<mpi::RankLink> link;
  try {
    link = std::make_unique<mpi::RankLink>(argc, argv);
  } catch (const InputError& e) {
    std::fprintf(stderr, "cachestress-mpi: error: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, static_cast<int>(ExitCode::input_error));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cachestress-mpi: error: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, static_cast<int>(ExitCode::environment_error));
  }
  cli::RunDriver driver;
  driver.program = "cachestress-mpi";
  driver.log_prefix = "rank " + std::to_string(link->rank()) + "@" + link->host();
  driver.writes_output = link->rank() == 0;
  driver.configure = [&](run::RunOptions& options) { link->configure(options); };
  driver.check_cell = [&](const model::Scenario& cell) { link->check(cell); };
  driver.live_progress = false;  // a rank's own progress line would show its share only
  driver.exit_status = [&](int status) {
    if (link->lost_any() || link->stopped_by_rank0()) return static_cast<int>(ExitCode::environment_error);
    // Expectations are judged on rank 0's merged figures; another rank's own verdict is moot.
    if (link->rank() != 0 && status == static_cast<int>(ExitCode::expectation_failed)) return 0;
    return status;
  };
  const int status = cli::main(argc, argv, driver);
  std::fflush(stdout);
  std::fflush(stderr);
  if (link->lost_any()) {
    // A lost rank never reaches MPI_Finalize: end the job here (mpirun reports the code).
    MPI_Abort(MPI_COMM_WORLD, status == 0 ? static_cast<int>(ExitCode::environment_error) : status);
  }
  if (link->stopped_by_rank0()) {
    // Rank 0 writes the report, then ends the job (MPI_Abort reaches this rank too).
    std::this_thread::sleep_for(std::chrono::seconds(30));
    return status;
  }
  MPI_Finalize();
  return status;
}
