#include "provenance/watermark_visible.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/error.hpp"

namespace opsis::provenance {
namespace {

// 5x7 pixel font for printable ASCII (32..126), drawn for opsis: '#' = ink.
struct Glyph {
  char character;
  std::array<const char*, 7> rows;
};
constexpr Glyph kFont[] = {
    {' ', {".....", ".....", ".....", ".....", ".....", ".....", "....."}},
    {'!', {"..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."}},
    {'"', {".#.#.", ".#.#.", ".....", ".....", ".....", ".....", "....."}},
    {'#', {".#.#.", "#####", ".#.#.", ".#.#.", ".#.#.", "#####", ".#.#."}},
    {'$', {"..#..", ".####", "#.#..", ".###.", "..#.#", "####.", "..#.."}},
    {'%', {"##..#", "##.#.", "...#.", "..#..", ".#...", ".#.##", "#..##"}},
    {'&', {".##..", "#..#.", ".##..", ".#...", "#.#.#", "#..#.", ".##.#"}},
    {'\'', {"..#..", "..#..", ".....", ".....", ".....", ".....", "....."}},
    {'(', {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."}},
    {')', {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."}},
    {'*', {".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", "....."}},
    {'+', {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."}},
    {',', {".....", ".....", ".....", ".....", "..##.", "..#..", ".#..."}},
    {'-', {".....", ".....", ".....", "#####", ".....", ".....", "....."}},
    {'.', {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."}},
    {'/', {"....#", "...#.", "...#.", "..#..", ".#...", ".#...", "#...."}},
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {':', {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."}},
    {';', {".....", ".##..", ".##..", ".....", ".##..", "..#..", ".#..."}},
    {'<', {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."}},
    {'=', {".....", ".....", "#####", ".....", "#####", ".....", "....."}},
    {'>', {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."}},
    {'?', {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."}},
    {'@', {".###.", "#...#", "#.###", "#.#.#", "#.###", "#....", ".####"}},
    {'A', {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'B', {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."}},
    {'C', {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."}},
    {'D', {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."}},
    {'E', {"#####", "#....", "#....", "####.", "#....", "#....", "#####"}},
    {'F', {"#####", "#....", "#....", "####.", "#....", "#....", "#...."}},
    {'G', {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"}},
    {'H', {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"}},
    {'I', {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'J', {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."}},
    {'K', {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"}},
    {'L', {"#....", "#....", "#....", "#....", "#....", "#....", "#####"}},
    {'M', {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"}},
    {'N', {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"}},
    {'O', {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'P', {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."}},
    {'Q', {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"}},
    {'R', {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"}},
    {'S', {".####", "#....", "#....", ".###.", "....#", "....#", "####."}},
    {'T', {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'U', {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."}},
    {'V', {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'W', {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."}},
    {'X', {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"}},
    {'Y', {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."}},
    {'Z', {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"}},
    {'[', {".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."}},
    {'\\', {"#....", ".#...", ".#...", "..#..", "...#.", "...#.", "....#"}},
    {']', {".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."}},
    {'^', {"..#..", ".#.#.", "#...#", ".....", ".....", ".....", "....."}},
    {'_', {".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
    {'`', {".#...", "..#..", ".....", ".....", ".....", ".....", "....."}},
    {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
    {'b', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."}},
    {'c', {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."}},
    {'d', {"....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"}},
    {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."}},
    {'f', {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."}},
    {'g', {".....", ".####", "#...#", "#...#", ".####", "....#", ".###."}},
    {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'i', {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."}},
    {'j', {"...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."}},
    {'k', {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."}},
    {'l', {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"}},
    {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."}},
    {'p', {".....", ".....", "####.", "#...#", "####.", "#....", "#...."}},
    {'q', {".....", ".....", ".##.#", "#..##", ".####", "....#", "....#"}},
    {'r', {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."}},
    {'s', {".....", ".....", ".###.", "#....", ".###.", "....#", "####."}},
    {'t', {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."}},
    {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"}},
    {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."}},
    {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"}},
    {'y', {".....", ".....", "#...#", "#...#", ".####", "....#", ".###."}},
    {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"}},
    {'{', {"...#.", "..#..", "..#..", ".#...", "..#..", "..#..", "...#."}},
    {'|', {"..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."}},
    {'}', {".#...", "..#..", "..#..", "...#.", "..#..", "..#..", ".#..."}},
    {'~', {".....", ".....", ".#...", "#.#.#", "...#.", ".....", "....."}},
};
static_assert(sizeof(kFont) / sizeof(kFont[0]) == 95, "one glyph per printable ASCII character");

bool glyph_ink(char c, int column, int row) {
  if (c < 32 || c > 126) c = '?';
  return kFont[c - 32].rows[size_t(row)][column] == '#';
}

// The mark in font units u (one font pixel): a rounded panel 20u high holding the eye logo
// (16u x 10u) and two text lines of 7u: "opsis" and "@handle".
constexpr double kPanelHeight = 20.0;
constexpr double kPadding = 2.0;
constexpr double kLogoWidth = 16.0;
constexpr double kTextX = kPadding + kLogoWidth + 2.5;
constexpr double kAdvance = 6.0;  // 5 columns + 1 space

struct MarkLayout {
  std::string line1 = "opsis";
  std::string line2;
  double width_units = 0;
};

MarkLayout layout_for(const std::string& handle) {
  MarkLayout layout;
  if (!handle.empty()) layout.line2 = "@" + handle;
  const size_t longest = std::max(layout.line1.size(), layout.line2.size());
  layout.width_units = kTextX + double(longest) * kAdvance - 1.0 + kPadding;
  return layout;
}

// Coverage of the panel (background) and of the ink (logo + text) at a point in font units.
struct Coverage {
  bool panel = false;
  bool ink = false;
};

Coverage sample(const MarkLayout& layout, double ux, double uy) {
  Coverage c;
  // rounded rectangle, corner radius 3u
  const double r = 3.0;
  const double qx = std::max({r - ux, ux - (layout.width_units - r), 0.0});
  const double qy = std::max({r - uy, uy - (kPanelHeight - r), 0.0});
  c.panel = ux >= 0 && uy >= 0 && ux < layout.width_units && uy < kPanelHeight && qx * qx + qy * qy <= r * r;
  if (!c.panel) return c;

  // Eye: an almond (two intersecting discs) outlined 1.4u wide, an iris disc with a pupil hole.
  const double cx = kPadding + kLogoWidth / 2, cy = kPanelHeight / 2;
  const double half_width = kLogoWidth / 2, half_height = 5.0;
  const double radius = (half_width * half_width + half_height * half_height) / (2 * half_height);
  const double offset = radius - half_height;
  const double dx = ux - cx, dy = uy - cy;
  const double upper = std::hypot(dx, dy - offset) - radius;  // disc below centre bounds the top
  const double lower = std::hypot(dx, dy + offset) - radius;
  const double almond = std::max(upper, lower);  // < 0 inside
  const double stroke = 1.4;
  const bool outline = almond <= 0 && almond > -stroke;
  const double iris = std::hypot(dx, dy);
  const bool iris_ink = iris <= 3.4 && iris > 1.3;
  if (outline || iris_ink) c.ink = true;

  // Text: glyph cells 5u x 7u, lines at y = 2u and y = 11u.
  auto text_ink = [&](const std::string& line, double top) {
    const double tx = ux - kTextX, ty = uy - top;
    if (tx < 0 || ty < 0 || ty >= 7) return false;
    const int index = int(tx / kAdvance);
    const int column = int(tx - index * kAdvance);
    if (index >= int(line.size()) || column >= 5) return false;
    return glyph_ink(line[size_t(index)], column, int(ty));
  };
  if (text_ink(layout.line1, 2.0) || text_ink(layout.line2, 11.0)) c.ink = true;
  return c;
}

struct Sprite {
  int width = 0, height = 0;
  std::vector<float> panel, ink;  // coverage in [0, 1], [height, width]
};

Sprite render_sprite(const MarkLayout& layout, int height_pixels) {
  const double unit = height_pixels / kPanelHeight;  // pixels per font unit
  Sprite sprite;
  sprite.height = height_pixels;
  sprite.width = std::max(1, int(std::ceil(layout.width_units * unit)));
  sprite.panel.assign(size_t(sprite.width) * sprite.height, 0.0f);
  sprite.ink.assign(sprite.panel.size(), 0.0f);
  constexpr int kSub = 4;  // 4x4 supersampling for anti-aliased edges
  for (int y = 0; y < sprite.height; ++y)
    for (int x = 0; x < sprite.width; ++x) {
      int panel = 0, ink = 0;
      for (int sy = 0; sy < kSub; ++sy)
        for (int sx = 0; sx < kSub; ++sx) {
          const Coverage c = sample(layout, (x + (sx + 0.5) / kSub) / unit, (y + (sy + 0.5) / kSub) / unit);
          panel += c.panel;
          ink += c.ink;
        }
      sprite.panel[size_t(y) * sprite.width + x] = float(panel) / (kSub * kSub);
      sprite.ink[size_t(y) * sprite.width + x] = float(ink) / (kSub * kSub);
    }
  return sprite;
}

void validate(const std::string& handle, const VisibleWatermarkOptions& options) {
  if (handle.size() > 32) throw InvalidArgument("handle", "the handle shown in the watermark must be at most 32 characters");
  if (!(options.opacity > 0 && options.opacity <= 1)) throw InvalidArgument("opacity", "watermark opacity must be in (0, 1]");
  if (!(options.height_fraction > 0 && options.height_fraction <= 0.5))
    throw InvalidArgument("height_fraction", "watermark height must be in (0, 0.5] of the frame's shorter side");
  if (!(options.hold_seconds > 0) || !(options.slide_seconds >= 0))
    throw InvalidArgument("hold_seconds", "the watermark needs a positive hold time and a non-negative slide time");
  if (options.start_corner < 0 || options.start_corner > 3)
    throw InvalidArgument("start_corner", "start_corner must be 0 (top-left) .. 3 (bottom-left)");
}

int mark_height(int frame_width, int frame_height, const VisibleWatermarkOptions& options) {
  return std::max(10, int(std::lround(options.height_fraction * std::min(frame_width, frame_height))));
}

}  // namespace

MarkPlacement visible_watermark_placement(int frame_width, int frame_height, const std::string& handle,
                                          double seconds, const VisibleWatermarkOptions& options) {
  validate(handle, options);
  const MarkLayout layout = layout_for(handle);
  MarkPlacement placement;
  placement.height = mark_height(frame_width, frame_height, options);
  placement.width = std::max(1, int(std::ceil(layout.width_units * placement.height / kPanelHeight)));
  const int margin = int(std::lround(0.03 * std::min(frame_width, frame_height)));
  const int left = margin, right = std::max(0, frame_width - placement.width - margin);
  const int top = margin, bottom = std::max(0, frame_height - placement.height - margin);
  const std::array<std::array<int, 2>, 4> corners = {{{left, top}, {right, top}, {right, bottom}, {left, bottom}}};

  const double cycle = options.hold_seconds + options.slide_seconds;
  const double t = std::max(0.0, seconds);
  const long step = long(std::floor(t / cycle));
  const double phase = t - double(step) * cycle;
  const auto& from = corners[size_t((options.start_corner + step) % 4)];
  const auto& to = corners[size_t((options.start_corner + step + 1) % 4)];
  double blend = 0;
  if (phase > options.hold_seconds && options.slide_seconds > 0) {
    const double s = (phase - options.hold_seconds) / options.slide_seconds;
    blend = s * s * (3 - 2 * s);  // smoothstep: starts and stops gently
  }
  placement.x = int(std::lround(from[0] + (to[0] - from[0]) * blend));
  placement.y = int(std::lround(from[1] + (to[1] - from[1]) * blend));
  return placement;
}

void apply_visible_watermark(Video& video, const std::string& handle, const VisibleWatermarkOptions& options) {
  if (video.width <= 0 || video.height <= 0 || video.frame_count() <= 0)
    throw InvalidArgument("video", "cannot watermark an empty video");
  validate(handle, options);
  const MarkLayout layout = layout_for(handle);
  const Sprite sprite = render_sprite(layout, mark_height(video.width, video.height, options));
  const float opacity = float(options.opacity);
  constexpr float kPanelAlpha = 0.35f;  // darkening behind the ink, for legibility on bright pictures
  constexpr float kInkAlpha = 0.9f;

  for (int t = 0; t < video.frame_count(); ++t) {
    const MarkPlacement at = visible_watermark_placement(video.width, video.height, handle, t / video.fps(), options);
    uint8_t* frame = video.frame(t);
    for (int sy = 0; sy < sprite.height; ++sy) {
      const int y = at.y + sy;
      if (y < 0 || y >= video.height) continue;
      for (int sx = 0; sx < sprite.width; ++sx) {
        const int x = at.x + sx;
        if (x < 0 || x >= video.width) continue;
        const size_t s = size_t(sy) * sprite.width + sx;
        const float panel = opacity * kPanelAlpha * sprite.panel[s];
        const float ink = opacity * kInkAlpha * sprite.ink[s];
        if (panel == 0 && ink == 0) continue;
        uint8_t* px = frame + (size_t(y) * video.width + x) * 3;
        for (int c = 0; c < 3; ++c) {
          const float v = px[c] * (1 - panel);
          px[c] = uint8_t(std::lround(std::clamp(v * (1 - ink) + 255.0f * ink, 0.0f, 255.0f)));
        }
      }
    }
  }
}

}  // namespace opsis::provenance
