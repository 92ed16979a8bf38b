#include "train/batch_queues.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace opsis::train {
namespace {

// Six kinds filled round-robin: a capacity of 24 holds 4 of each and no batch of 8, which
// used to block the producer and the optimiser forever.
TEST(BatchQueues, FullQueuesWithoutACompleteBatchStillFillOne) {
  std::atomic<bool> stop{false};
  BatchQueues<int> queues(6, 24, stop);
  std::thread producer([&] {
    for (int i = 0; i < 6 * 40 && !stop; ++i) queues.push(size_t(i % 6), i);
  });
  for (int batch = 0; batch < 10; ++batch) {
    const auto items = queues.take(8);
    ASSERT_EQ(items.size(), 8u);
    for (int item : items) EXPECT_EQ(item % 6, items.front() % 6);  // one kind per batch
  }
  stop = true;
  queues.wake_all();
  producer.join();
}

TEST(BatchQueues, ProducersWaitWhileABatchIsReady) {
  std::atomic<bool> stop{false};
  BatchQueues<int> queues(1, 4, stop);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 8 && !stop; ++i) queues.push(0, i), ++pushed;
  });
  EXPECT_EQ(queues.take(2).size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(pushed.load(), 6);  // at most capacity + the batch taken
  stop = true;
  queues.wake_all();
  producer.join();
}

}  // namespace
}  // namespace opsis::train
