//===- ThreadPool.cpp - the runtime's thread pool -------------------------===//
#include "diffuse/threads.h"

#include <algorithm>

namespace diffuse::rt {

ThreadPool::ThreadPool(int threads, int64_t threshold) : threshold_(threshold) {
  for (int i = 1; i < std::max(1, threads); ++i)
    workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto &t : workers_)
    t.join();
}

int64_t ThreadPool::chunkBegin(int index) const {
  // Chunks of whole cache lines (8 doubles or 16 floats: use 16).
  int64_t T = threads();
  int64_t lines = (n_ + 15) / 16;
  return std::min(n_, lines * index / T * 16);
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(m_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
    }
    int64_t b = chunkBegin(index), e = chunkBegin(index + 1);
    if (b < e)
      task_(args_, b, e);
    {
      std::lock_guard<std::mutex> lock(m_);
      if (--pending_ == 0)
        done_.notify_one();
    }
  }
}

void ThreadPool::run(int64_t n, TaskFn task, void *args) {
  if (workers_.empty() || n < threshold_) {
    task(args, 0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(m_);
    n_ = n;
    task_ = task;
    args_ = args;
    pending_ = (int)workers_.size();
    ++generation_;
  }
  wake_.notify_all();
  int64_t e = chunkBegin(1);
  if (e > 0)
    task(args, 0, e);
  std::unique_lock<std::mutex> lock(m_);
  done_.wait(lock, [&] { return pending_ == 0; });
}

} // namespace diffuse::rt
