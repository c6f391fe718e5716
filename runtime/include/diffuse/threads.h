//===- threads.h - the runtime's thread pool --------------------*- C++ -*-===//
//
// Runs a compiled kernel task over [0, n) on T threads (the caller is one of
// them), in contiguous chunks aligned to 64 bytes. Below `threshold`
// elements it runs on the caller alone: waking threads costs microseconds,
// more than a small kernel.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_THREADS_H
#define DIFFUSE_THREADS_H

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace diffuse::rt {

using TaskFn = void (*)(void *args, int64_t begin, int64_t end);

class ThreadPool {
public:
  explicit ThreadPool(int threads, int64_t threshold = 1 << 19);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  void run(int64_t n, TaskFn task, void *args);
  int threads() const { return (int)workers_.size() + 1; }

private:
  void work(int index);
  int64_t chunkBegin(int index) const;

  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  int64_t threshold_;
  // The current job.
  int64_t n_ = 0;
  TaskFn task_ = nullptr;
  void *args_ = nullptr;
};

} // namespace diffuse::rt

#endif
