#pragma once
// Visible watermark: a small, semi-transparent "opsis" mark (an eye drawn from geometry, the
// word, and the creator's handle in a built-in 5x7 pixel font) that sits in one corner for a
// while, then slides to the next corner clockwise, so no single crop removes it from the
// whole video. It scales with the frame.
#include <string>

#include "core/av.hpp"

namespace opsis::provenance {

struct VisibleWatermarkOptions {
  double opacity = 0.6;          // 0..1, multiplies the whole mark
  double height_fraction = 0.07; // mark height / the frame's shorter side
  double hold_seconds = 2.5;     // time spent in each corner
  double slide_seconds = 0.5;    // time to slide to the next corner (eased)
  int start_corner = 2;          // 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left
};

// Where the mark's top-left pixel lies at time `seconds` for a frame of this size.
struct MarkPlacement {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};
MarkPlacement visible_watermark_placement(int frame_width, int frame_height, const std::string& handle,
                                          double seconds, const VisibleWatermarkOptions& options = {});

// Draws the mark into every frame. `handle` is shown as "@handle" (characters outside
// printable ASCII are drawn as '?'; an empty handle shows only "opsis"). Throws
// opsis::InvalidArgument for an empty video, a handle longer than 32 characters or options
// out of range; nothing is changed then.
void apply_visible_watermark(Video& video, const std::string& handle, const VisibleWatermarkOptions& options = {});

}  // namespace opsis::provenance
