#pragma once
// Bounded queues between the trainers' rendering threads and their optimiser: one queue per
// kind of example (a native size, a window length: a batch must share shapes), a batch is
// taken from the first kind that has enough. Producers block while the queues are full and
// some kind holds a whole batch (otherwise a full set of queues with no complete batch would
// starve the optimiser forever: 6 kinds x 4 items fill a capacity of 24 with batches of 8);
// everything wakes and returns empty once `stop` is set.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <vector>

namespace opsis::train {

template <typename Item>
class BatchQueues {
 public:
  // shuffle: take items from random places, so that a batch mixes the items of many
  // producers' pushes (several frame pairs of one clip arrive together).
  BatchQueues(size_t kinds, size_t capacity, const std::atomic<bool>& stop, bool shuffle = false)
      : queues_(kinds), capacity_(capacity), stop_(stop), shuffle_(shuffle) {}

  void push(size_t kind, std::vector<Item> items) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return stop_.load() || total() < capacity_ || !batch_ready(); });
    if (stop_) return;
    for (auto& item : items) queues_[kind].push_back(std::move(item));
    ready_.notify_all();
  }
  void push(size_t kind, Item item) {
    std::vector<Item> one;
    one.push_back(std::move(item));
    push(kind, std::move(one));
  }

  // Blocks until one kind has `count` items; returns them (empty once stopped).
  std::vector<Item> take(size_t count) {
    std::unique_lock lock(mutex_);
    if (count != wanted_) {
      wanted_ = count;
      space_.notify_all();
    }
    size_t chosen = 0;
    ready_.wait(lock, [&] {
      if (stop_) return true;
      for (size_t i = 0; i < queues_.size(); ++i)
        if (queues_[i].size() >= count) return chosen = i, true;
      return false;
    });
    std::vector<Item> out;
    if (stop_) return out;
    auto& q = queues_[chosen];
    for (size_t i = 0; i < count; ++i) {
      const size_t at = shuffle_ ? size_t(rng_() % q.size()) : 0;
      out.push_back(std::move(q[at]));
      q.erase(q.begin() + std::ptrdiff_t(at));
    }
    space_.notify_all();
    return out;
  }

  void wake_all() {
    ready_.notify_all();
    space_.notify_all();
  }

 private:
  // Whether the optimiser could take a batch now (before it first asks: assume it could).
  bool batch_ready() const {
    if (wanted_ == 0) return true;
    for (const auto& q : queues_)
      if (q.size() >= wanted_) return true;
    return false;
  }
  size_t total() const {
    size_t n = 0;
    for (const auto& q : queues_) n += q.size();
    return n;
  }
  std::vector<std::deque<Item>> queues_;
  size_t capacity_;
  size_t wanted_ = 0;  // the batch size take() last asked for
  const std::atomic<bool>& stop_;
  bool shuffle_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::mt19937_64 rng_{7};
};

}  // namespace opsis::train
