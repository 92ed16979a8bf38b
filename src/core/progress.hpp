#pragma once
// Per-call progress and cancellation (never global): long work takes a `const Progress*`
// (null = nobody listening), reports fractions in [0, 1] and polls for cancellation.
#include <functional>

#include "core/error.hpp"

namespace opsis {

struct Progress {
  std::function<void(double fraction)> report;  // may be empty
  std::function<bool()> cancelled;              // may be empty; true = stop now

  // Reports and throws opsis::Cancelled if the caller asked to stop.
  static void step(const Progress* p, double fraction) {
    if (!p) return;
    if (p->report) p->report(fraction);
    if (p->cancelled && p->cancelled()) throw Cancelled();
  }
};

}  // namespace opsis
