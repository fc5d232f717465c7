// Spreading independent test work (loader traces, roots to build) over a few threads.
#pragma once

#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace jailbuild::testing {

// Runs `work(i)` for every i < count on `threads` threads; returns when all are done.
template <typename Work>
void run_in_parallel(std::size_t count, unsigned threads, Work work) {
  std::atomic<std::size_t> next{0};
  std::vector<std::jthread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (std::size_t i = next++; i < count; i = next++) work(i);
    });
  }
}

}  // namespace jailbuild::testing
