#include "cameo/likeness.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string_view>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "studio/render.hpp"

namespace opsis::cameo {

namespace {

constexpr const char* kDefaultCascades = "/usr/share/opencv4/haarcascades";
constexpr int kMaxSamples = 24;        // frames looked at, spread over the recording
constexpr int kDetectHeight = 240;     // frames are scaled to this height for the cascade (as face_check.cpp)
// A studio pixel "is" a palette colour when it is within this RGB distance of the colour at
// some shading between the renderer's darkest (0.62 for sleeves, 0.8 for brows, 0.84 for the
// shaded side of skin) and full light; video coding moves colours by 5-10.
constexpr double kStudioMatch = 24;
constexpr double kMinShade = 0.78, kMaxShade = 1.04;

// ---- colours -------------------------------------------------------------------------------

struct Rgb {
  double r = 0, g = 0, b = 0;
};
Rgb rgb(const std::array<uint8_t, 3>& c) { return {double(c[0]), double(c[1]), double(c[2])}; }
Rgb rgb(const uint8_t* p) { return {double(p[0]), double(p[1]), double(p[2])}; }
double distance(const Rgb& a, const Rgb& b) { return std::sqrt((a.r - b.r) * (a.r - b.r) + (a.g - b.g) * (a.g - b.g) + (a.b - b.b) * (a.b - b.b)); }

// Distance from `p` to `c` seen at its best shading in [kMinShade, kMaxShade].
double shaded_distance(const Rgb& p, const Rgb& c) {
  const double cc = c.r * c.r + c.g * c.g + c.b * c.b;
  const double k = cc > 0 ? std::clamp((p.r * c.r + p.g * c.g + p.b * c.b) / cc, kMinShade, kMaxShade) : 1.0;
  return distance(p, {c.r * k, c.g * k, c.b * k});
}

struct Lab {
  double l = 0, a = 0, b = 0;
};
// sRGB (D65) to CIELAB.
Lab lab(const Rgb& c) {
  auto linear = [](double v) {
    v /= 255.0;
    return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
  };
  const double r = linear(c.r), g = linear(c.g), b = linear(c.b);
  const double x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
  const double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const double z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  auto f = [](double t) { return t > 0.008856 ? std::cbrt(t) : 7.787 * t + 16.0 / 116.0; };
  return {116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))};
}
double distance(const Lab& a, const Lab& b) { return std::sqrt((a.l - b.l) * (a.l - b.l) + (a.a - b.a) * (a.a - b.a) + (a.b - b.b) * (a.b - b.b)); }

template <typename E, size_t N>
std::array<Rgb, N> studio_colours(std::array<uint8_t, 3> (*table)(E)) {
  std::array<Rgb, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = rgb(table(E(i)));
  return out;
}
const std::array<Rgb, 5>& skin_colours() {
  static const auto table = studio_colours<studio::SkinTone, 5>(studio::skin_rgb);
  return table;
}
const std::array<Rgb, 6>& hair_colours() {
  static const auto table = studio_colours<studio::HairColor, 6>(studio::hair_rgb);
  return table;
}
const std::array<Rgb, 8>& shirt_colours() {
  static const auto table = studio_colours<studio::Color, 8>(studio::palette_rgb);
  return table;
}

template <size_t N>
size_t nearest_lab(const Rgb& c, const std::array<Rgb, N>& table) {
  const Lab x = lab(c);
  size_t best = 0;
  for (size_t i = 1; i < N; ++i)
    if (distance(x, lab(table[i])) < distance(x, lab(table[best]))) best = i;
  return best;
}

Rgb median(std::vector<Rgb> pixels) {
  if (pixels.empty()) return {};
  auto channel = [&](double Rgb::*m) {
    std::vector<double> v;
    v.reserve(pixels.size());
    for (const auto& p : pixels) v.push_back(p.*m);
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  return {channel(&Rgb::r), channel(&Rgb::g), channel(&Rgb::b)};
}

// ---- frames and boxes ------------------------------------------------------------------------

struct Frame {
  const uint8_t* data;  // [height, width, 3]
  int width, height;
  bool inside(int x, int y) const { return x >= 0 && y >= 0 && x < width && y < height; }
  Rgb at(int x, int y) const { return rgb(data + (size_t(y) * width + x) * 3); }
};

// A face box shaped like the Haar cascade's, in frame pixels; regions are given in its units
// (0..1 across the box, negative above or left of it).
struct FaceBox {
  double x = 0, y = 0, w = 0, h = 0;
  std::vector<Rgb> pixels(const Frame& f, double u0, double v0, double u1, double v1) const {
    std::vector<Rgb> out;
    const int x0 = int(std::floor(x + u0 * w)), x1 = int(std::ceil(x + u1 * w));
    const int y0 = int(std::floor(y + v0 * h)), y1 = int(std::ceil(y + v1 * h));
    for (int yy = std::max(0, y0); yy < std::min(f.height, y1); ++yy)
      for (int xx = std::max(0, x0); xx < std::min(f.width, x1); ++xx) out.push_back(f.at(xx, yy));
    return out;
  }
};

std::vector<int> sample_frames(const Video& video) {
  const int frames = video.frame_count();
  const int step = std::max(1, int(std::ceil(double(frames) / kMaxSamples)));
  std::vector<int> out;
  for (int t = 0; t < frames; t += step) out.push_back(t);
  return out;
}

// The studio's cartoon head, found by its colours: the largest patch of skin-coloured pixels
// (any studio tone, any shading), grown through the hair-coloured pixels touching it (the cap
// and long hair). The union's widest rows are the head (cap 2.14 r, ears 2.3 r across, r the
// head's radius); the eyes' whites inside it give its centre's height, and when both show,
// balanced either side of the centre, the face is frontal.
std::optional<FaceBox> studio_head(const Frame& f) {
  cv::Mat skin(f.height, f.width, CV_8U, cv::Scalar(0)), hair(f.height, f.width, CV_8U, cv::Scalar(0));
  // A hat's brown is within reach of the darkest skin tone shaded: a pixel nearer the hat than
  // the tone it matches is the hat (else the head grows through the brim to 2.7 r).
  const Rgb hat = rgb(studio::hat_rgb());
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      const Rgb p = f.at(x, y);
      const double to_hat = shaded_distance(p, hat);
      for (const Rgb& c : skin_colours())
        if (const double d = shaded_distance(p, c); d < kStudioMatch && d < to_hat) skin.at<uint8_t>(y, x) = 255;
      for (const Rgb& c : hair_colours())
        if (const double d = shaded_distance(p, c); d < kStudioMatch && d < to_hat) hair.at<uint8_t>(y, x) = 255;
    }
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(skin, labels, stats, centroids, 8, CV_32S);
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (!best || stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA)) best = i;
  if (!best || stats.at<int>(best, cv::CC_STAT_AREA) < f.width * f.height / 100) return std::nullopt;
  // Grow through hair: flood the skin-or-hair mask from the skin patch.
  cv::Mat head = (labels == best);
  cv::Mat either = skin | hair;
  cv::Mat both_labels;
  cv::connectedComponents(either, both_labels, 8, CV_32S);
  cv::Point seed;
  cv::minMaxLoc(head, nullptr, nullptr, nullptr, &seed);
  head = (both_labels == both_labels.at<int>(seed));

  std::vector<int> width(f.height, 0), lo(f.height, f.width), hi(f.height, -1);
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x)
      if (head.at<uint8_t>(y, x)) ++width[y], lo[y] = std::min(lo[y], x), hi[y] = std::max(hi[y], x);
  const int widest = *std::max_element(width.begin(), width.end());
  if (widest < 12) return std::nullopt;
  double cx = 0;
  int rows = 0, top = -1;
  for (int y = 0; y < f.height; ++y) {
    if (top < 0 && width[y] > 0) top = y;
    if (width[y] >= 0.9 * widest) cx += (lo[y] + hi[y]) / 2.0, ++rows;
  }
  cx /= rows;
  const double r = widest / 2.2;

  // The eyes: near-white pixels inside the head's outline (skin on both sides of them in their
  // row), the topmost ones (teeth in an open mouth, 0.4 r lower, are left out). Where they are
  // gives the head's centre (0.02 r below them); both showing, balanced either side of the
  // centre, is a frontal face.
  std::vector<cv::Point> whites;
  for (int y = std::max(0, top); y < std::min(f.height, int(top + 2.2 * r)); ++y)
    for (int x = std::max(lo[y] + 1, int(cx - 0.6 * r)); x <= std::min(hi[y] - 1, int(cx + 0.6 * r)); ++x) {
      const Rgb p = f.at(x, y);
      // White and grey-neutral (pale skin is bright too, but pink).
      if (!head.at<uint8_t>(y, x) && std::min({p.r, p.g, p.b}) > 190 && std::max({p.r, p.g, p.b}) - std::min({p.r, p.g, p.b}) < 28)
        whites.emplace_back(x, y);
    }
  int left = 0, right = 0;
  double eye_y = 0;
  for (const cv::Point& w : whites) {
    if (w.y > whites.front().y + 0.36 * r) break;  // in row order
    (w.x < cx ? left : right) += 1;
    eye_y += w.y;
  }
  const double eye_area = M_PI * 0.15 * 0.17 * r * r;
  // (At 160x90 through H.264 an eye's white shows as a fifth of its area: colour is subsampled.)
  if (whites.empty() || left < 0.12 * eye_area || right < 0.12 * eye_area || std::min(left, right) < 0.4 * std::max(left, right))
    return std::nullopt;
  const double cy = eye_y / (left + right) + 0.02 * r;

  // The cascade-shaped box: eyes at 0.38 of its height, mouth (0.48 r below the centre) at 0.78.
  FaceBox box;
  box.w = box.h = 1.25 * r;
  box.x = cx - box.w / 2;
  box.y = cy - 0.495 * r;
  return box;
}

// The attributes one frame shows.
struct Reading {
  studio::SkinTone skin;
  studio::HairColor hair_color;
  studio::HairStyle hair_style;
  studio::Color shirt;
  studio::Accessory accessory = studio::Accessory::None;
};

// Share of the pixels of one region that pass `test`; regions are in head units around the
// head's centre (a right, b down, in head radii r). Pixels outside the frame count as failing.
template <typename Test>
double share(const Frame& f, double hx, double hy, double r, double a0, double b0, double a1, double b1, Test test) {
  int inside = 0, passed = 0;
  for (int y = int(std::floor(hy + b0 * r)); y < int(std::ceil(hy + b1 * r)); ++y)
    for (int x = int(std::floor(hx + a0 * r)); x < int(std::ceil(hx + a1 * r)); ++x) {
      ++inside;
      if (f.inside(x, y) && test(f.at(x, y), x, y)) ++passed;
    }
  return inside ? double(passed) / inside : 0.0;
}

// A studio cartoon's hat or glasses, in head units (the studio draws them there: render.cpp):
//   hat      its brim, 1.35 r either side of the centre at 0.72 r above it, reaches past the
//            ears and the hair cap (0.83 r wide at that height) on both sides, and its crown
//            rises above the cap's top (1.11 r above the centre) to 1.59 r: both brim ends
//            and the crown in the hat's colour;
//   glasses  rims of radius 0.25 r around each eye (0.36 r either side, at the centre's
//            height): in the ring 0.19-0.31 r from an eye's centre, below the brows, a
//            no-glasses face shows only skin (the eye's white and pupil lie within 0.17 r).
// Needs a head of at least 10 pixels' radius (thinner rims are lost in the video's blur).
studio::Accessory studio_accessory(const Frame& f, const FaceBox& box, const Rgb& skin) {
  const double r = box.w / 1.25, hx = box.x + box.w / 2, hy = box.y + 0.495 * r;
  if (r < 10) return studio::Accessory::None;
  const Rgb hat = rgb(studio::hat_rgb());
  auto hat_like = [&](const Rgb& p, int, int) { return shaded_distance(p, hat) < 30; };
  const double left_brim = share(f, hx, hy, r, -1.28, -0.78, -1.06, -0.66, hat_like);
  const double right_brim = share(f, hx, hy, r, 1.06, -0.78, 1.28, -0.66, hat_like);
  const double crown = share(f, hx, hy, r, -0.45, -1.45, 0.45, -1.22, hat_like);
  if (left_brim > 0.2 && right_brim > 0.2 && crown > 0.5) return studio::Accessory::Hat;
  // Rims: far darker than the skin and about neutral (the frame's colour, shaded).
  const double skin_light = skin.r + skin.g + skin.b;
  const Rgb rim = rgb(studio::glasses_frame_rgb());
  auto ring = [&](int side) {
    const double ex = hx + side * 0.36 * r, ey = hy - 0.02 * r;
    return share(f, ex, ey, r, -0.31, -0.2, 0.31, 0.31, [&](const Rgb& p, int x, int y) {
      const double d = std::hypot(x + 0.5 - ex, y + 0.5 - ey) / r;
      if (d < 0.19 || d > 0.31) return false;
      return p.r + p.g + p.b < 0.65 * skin_light && distance(p, rim) < 70;
    }) / (M_PI * (0.31 * 0.31 - 0.19 * 0.19) / (0.62 * 0.51));  // the ring's share of the region
  };
  if (ring(-1) > 0.15 && ring(1) > 0.15) return studio::Accessory::Glasses;
  return studio::Accessory::None;
}

// Where the shirt is, below the face box: a cartoon's shoulders sit right under its chin (and a
// studio close-up shows only their top), a person's lower and wider, under a neck.
enum class Build { cartoon, person };

Reading read_attributes(const Frame& f, const FaceBox& box, Build build) {
  Reading out;
  // Skin: the cheeks, beside the nose and above the mouth.
  std::vector<Rgb> cheeks = box.pixels(f, 0.15, 0.55, 0.35, 0.7);
  const std::vector<Rgb> right = box.pixels(f, 0.65, 0.55, 0.85, 0.7);
  cheeks.insert(cheeks.end(), right.begin(), right.end());
  Rgb skin = median(cheeks);
  {
    // Glasses' rims reach into the cheeks' region: without the pixels far darker than its
    // median, the median is the skin's (else a tan face under glasses reads dark, and a bald
    // head's scalp no longer matches the darkened skin).
    std::vector<Rgb> lit;
    for (const Rgb& p : cheeks)
      if (p.r + p.g + p.b > 0.75 * (skin.r + skin.g + skin.b)) lit.push_back(p);
    if (!lit.empty()) skin = median(lit);
  }
  out.skin = studio::SkinTone(nearest_lab(skin, skin_colours()));
  // A pixel looks like this face's skin (its shaded side included; light-brown hair is near
  // shaded skin, so the match is close).
  auto skin_like = [&](const Rgb& p) { return shaded_distance(p, skin) < 25; };
  // Hats and glasses are read on the studio's cartoons only: on a real face neither is found
  // reliably enough to claim (a person's likeness has none).
  if (build == Build::cartoon) out.accessory = studio_accessory(f, box, skin);

  // Above the forehead: mostly skin is bald; else the hair is what is not skin there. Under a
  // hat that region is the hat: the hair shows only between its brim and the forehead.
  const std::vector<Rgb> above = out.accessory == studio::Accessory::Hat ? box.pixels(f, 0.3, -0.07, 0.7, 0.09)
                                                                          : box.pixels(f, 0.3, -0.4, 0.7, -0.08);
  std::vector<Rgb> hair_pixels;
  int skin_count = 0;
  for (const Rgb& p : above) (skin_like(p) ? skin_count += 1 : (hair_pixels.push_back(p), 0));
  const bool bald = !above.empty() && skin_count > 0.6 * double(above.size());
  const Rgb hair = median(hair_pixels);
  out.hair_color = bald || hair_pixels.empty() ? studio::HairColor::Brown : studio::HairColor(nearest_lab(hair, hair_colours()));
  auto hair_like = [&](const Rgb& p) { return !bald && !hair_pixels.empty() && distance(p, hair) < 45 && !skin_like(p); };

  // Long: hair beside the face at chin level, on both sides.
  int left_hair = 0, right_hair = 0;
  const std::vector<Rgb> left_side = box.pixels(f, -0.35, 0.85, -0.05, 1.15), right_side = box.pixels(f, 1.05, 0.85, 1.35, 1.15);
  for (const Rgb& p : left_side) left_hair += hair_like(p);
  for (const Rgb& p : right_side) right_hair += hair_like(p);
  const bool long_hair = !left_side.empty() && !right_side.empty() && left_hair > 0.3 * double(left_side.size()) &&
                         right_hair > 0.3 * double(right_side.size());
  out.hair_style = bald ? studio::HairStyle::Bald : long_hair ? studio::HairStyle::Long : studio::HairStyle::Short;

  // Shirt: below the chin, neck and hair left out; each pixel votes for its nearest studio
  // colour, a near match (the studio's own pixels) weighing far more than a far one (grass
  // beside a shirt, a real shirt's shadows).
  std::array<double, 8> votes{};
  std::vector<Rgb> below = build == Build::cartoon ? box.pixels(f, -0.6, 1.35, 1.6, 2.2) : box.pixels(f, -0.8, 1.8, 1.8, 3.0);
  // A person framed tight (the shoulders out of the picture): what shows under the chin.
  if (build == Build::person && below.size() < size_t(box.w * box.h / 4)) below = box.pixels(f, -0.3, 1.2, 1.3, 1.8);
  for (const Rgb& p : below) {
    if (skin_like(p) || hair_like(p)) continue;
    const size_t c = nearest_lab(p, shirt_colours());
    const double d = distance(lab(p), lab(shirt_colours()[c]));
    votes[c] += 1.0 / (1.0 + (d / 8.0) * (d / 8.0));
  }
  // Nothing below the face in the picture: the studio's default shirt.
  out.shirt = below.empty() ? studio::Identity{}.shirt : studio::Color(std::max_element(votes.begin(), votes.end()) - votes.begin());
  return out;
}

// A square around the head and shoulders (from above the hair to below the shoulders), edges
// repeated where it leaves the frame, scaled to kPortraitSize.
Image portrait(const Frame& f, const FaceBox& box) {
  const double side = 2.6 * box.h;
  const double x0 = box.x + box.w / 2 - side / 2, y0 = box.y + 0.75 * box.h - side / 2;
  cv::Mat frame(f.height, f.width, CV_8UC3, const_cast<uint8_t*>(f.data));
  cv::Mat crop(int(std::lround(side)), int(std::lround(side)), CV_8UC3);
  for (int y = 0; y < crop.rows; ++y)
    for (int x = 0; x < crop.cols; ++x) {
      const int sx = std::clamp(int(x0) + x, 0, f.width - 1), sy = std::clamp(int(y0) + y, 0, f.height - 1);
      crop.at<cv::Vec3b>(y, x) = frame.at<cv::Vec3b>(sy, sx);
    }
  cv::Mat scaled;
  cv::resize(crop, scaled, cv::Size(kPortraitSize, kPortraitSize), 0, 0, crop.rows > kPortraitSize ? cv::INTER_AREA : cv::INTER_LINEAR);
  Image out(kPortraitSize, kPortraitSize);
  for (int y = 0; y < kPortraitSize; ++y) std::copy_n(scaled.ptr<uint8_t>(y), 3 * kPortraitSize, out.row(y));
  return out;
}

template <typename E>
E most_frequent(const std::vector<E>& values) {
  std::map<E, int> counts;
  for (const E v : values) ++counts[v];
  return std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) { return a.second < b.second; })->first;
}

template <typename E, size_t N>
E from_json_word(const nlohmann::json& j, const char* field, const std::array<std::string_view, N>& names) {
  if (!j.is_object() || !j.contains(field) || !j[field].is_string())
    throw InvalidArgument("likeness", std::string("the likeness has no '") + field + "'");
  const std::string word = j[field].get<std::string>();
  for (size_t i = 0; i < N; ++i)
    if (names[i] == word) return E(i);
  throw InvalidArgument("likeness", std::string("unknown ") + field + " '" + word.substr(0, 20) + "' in the likeness");
}

}  // namespace

// ---- JSON and words --------------------------------------------------------------------------

nlohmann::json to_json(const Likeness& l) {
  return {{"skin", std::string(studio::name(l.skin))},
          {"hair_color", std::string(studio::name(l.hair_color))},
          {"hair_style", std::string(studio::name(l.hair_style))},
          {"shirt", std::string(studio::name(l.shirt))},
          {"accessory", std::string(studio::name(l.accessory))}};
}

Likeness likeness_from_json(const nlohmann::json& j) {
  Likeness l;
  l.skin = from_json_word<studio::SkinTone>(j, "skin", studio::kSkinToneNames);
  l.hair_color = from_json_word<studio::HairColor>(j, "hair_color", studio::kHairColorNames);
  l.hair_style = from_json_word<studio::HairStyle>(j, "hair_style", studio::kHairStyleNames);
  l.shirt = from_json_word<studio::Color>(j, "shirt", studio::kColorNames);
  l.accessory = j.contains("accessory") ? from_json_word<studio::Accessory>(j, "accessory", studio::kAccessoryNames)
                                        : studio::Accessory::None;
  return l;
}

std::string describe(const Likeness& l) {
  std::string text = std::string(studio::name(l.skin)) + " skin, ";
  // A bald head has no hair colour to say.
  text += l.hair_style == studio::HairStyle::Bald
              ? std::string("bald")
              : std::string(studio::name(l.hair_style)) + " " + std::string(studio::name(l.hair_color)) + " hair";
  const std::string shirt(studio::name(l.shirt));
  text += std::string(shirt == "orange" ? ", an " : ", a ") + shirt + " shirt";
  if (l.accessory == studio::Accessory::Glasses) text += ", glasses";
  if (l.accessory == studio::Accessory::Hat) text += ", a hat";
  return text;
}

std::string with_likenesses(const std::string& prompt, const std::vector<std::pair<std::string, std::string>>& handles,
                            bool add_unmentioned) {
  auto handle_char = [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '.'; };
  std::string out = prompt;
  for (const auto& [handle, description] : handles) {
    if (handle.empty() || description.empty()) continue;
    bool mentioned = false;
    for (size_t i = 0; !mentioned && (i = out.find('@', i)) != std::string::npos; ++i) {
      if (i > 0) {
        const auto before = static_cast<unsigned char>(out[i - 1]);
        if (std::isalnum(before) || before == '_' || before == '.' || before >= 0x80) continue;  // an e-mail address
      }
      size_t end = i + 1;
      while (end < out.size() && handle_char(static_cast<unsigned char>(out[end]))) ++end;
      while (end > i + 1 && out[end - 1] == '.') --end;  // "@ada." ends a sentence
      std::string mention = out.substr(i + 1, end - i - 1);
      std::transform(mention.begin(), mention.end(), mention.begin(), [](unsigned char c) { return char(std::tolower(c)); });
      if (mention != handle) continue;
      out.insert(end, " (" + description + ")");
      mentioned = true;
    }
    if (!mentioned && add_unmentioned) {
      while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
      if (!out.empty() && std::string_view(".!?").find(out.back()) == std::string_view::npos) out += '.';
      out += (out.empty() ? "@" : " @") + handle + " (" + description + ") is in the scene.";
    }
  }
  return out;
}

// ---- the reader ------------------------------------------------------------------------------

struct LikenessReader::Cascade {
  cv::CascadeClassifier frontal;
};

LikenessReader::LikenessReader(std::string cascade_dir) : cascade_(std::make_unique<Cascade>()) {
  if (cascade_dir.empty()) {
    const char* env = std::getenv("OPSIS_HAARCASCADES");
    cascade_dir = env && *env ? env : kDefaultCascades;
  }
  const auto frontal = std::filesystem::path(cascade_dir) / "haarcascade_frontalface_default.xml";
  if (!std::filesystem::exists(frontal) || !cascade_->frontal.load(frontal.string()))
    throw IoError("the face cascade is missing in " + cascade_dir + " (install Debian's opencv-data, or set OPSIS_HAARCASCADES)");
}

LikenessReader::~LikenessReader() = default;

std::optional<LikenessReading> LikenessReader::read(const Video& video) {
  if (video.width <= 0 || video.height <= 0 || video.frame_count() == 0) return std::nullopt;
  const std::vector<int> samples = sample_frames(video);
  const double scale = double(kDetectHeight) / video.height;
  const int min_face = kDetectHeight / 8;

  struct Found {
    int t;
    FaceBox box;
  };
  std::vector<Found> haar, studio_heads;
  {
    std::lock_guard lock(mutex_);
    for (const int t : samples) {
      cv::Mat rgb(video.height, video.width, CV_8UC3, const_cast<uint8_t*>(video.frame(t)));
      cv::Mat grey, small;
      cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
      cv::resize(grey, small, cv::Size(), scale, scale, cv::INTER_AREA);
      cv::equalizeHist(small, small);
      std::vector<cv::Rect> faces;
      std::vector<int> neighbours;
      cascade_->frontal.detectMultiScale(small, faces, neighbours, 1.1, 5, 0, cv::Size(min_face, min_face));
      if (!faces.empty()) {
        // The surest face (the most overlapping detections), not the largest: a patch or a
        // pattern beside the face can pass the cascade too, with fewer neighbours.
        const size_t best = size_t(std::max_element(neighbours.begin(), neighbours.end()) - neighbours.begin());
        const cv::Rect r = faces[best];
        haar.push_back({t, FaceBox{r.x / scale, r.y / scale, r.width / scale, r.height / scale}});
      }
    }
  }
  for (const int t : samples)
    if (auto box = studio_head(Frame{video.frame(t), video.width, video.height})) studio_heads.push_back({t, *box});

  // The studio's own colours, when they find heads, say more about a studio character than the
  // cascade's occasional box on a cartoon; a real face matches them rarely.
  const int needed = std::max(2, int(samples.size()) / 10);
  const bool use_studio = int(studio_heads.size()) >= needed && studio_heads.size() >= haar.size() / 2;
  const std::vector<Found>& used = use_studio ? studio_heads : haar;
  if (int(used.size()) < needed) return std::nullopt;

  std::vector<Reading> readings;
  for (const auto& found : used) readings.push_back(
        read_attributes(Frame{video.frame(found.t), video.width, video.height}, found.box, use_studio ? Build::cartoon : Build::person));
  auto pick = [&](auto Reading::*field) {
    std::vector<std::decay_t<decltype(readings[0].*field)>> values;
    for (const auto& r : readings) values.push_back(r.*field);
    return most_frequent(values);
  };
  LikenessReading out;
  out.likeness.skin = pick(&Reading::skin);
  out.likeness.hair_style = pick(&Reading::hair_style);
  out.likeness.hair_color = out.likeness.hair_style == studio::HairStyle::Bald ? studio::HairColor::Brown : pick(&Reading::hair_color);
  out.likeness.shirt = pick(&Reading::shirt);
  out.likeness.accessory = pick(&Reading::accessory);
  out.face_finder = use_studio ? "studio_palette" : "haar_frontal";
  out.frames_sampled = int(samples.size());
  out.frames_used = int(used.size());
  // The portrait: the first frontal face (the recording starts facing the camera).
  const Found& first = used.front();
  out.portrait_frame = first.t;
  out.face_x = int(std::lround(first.box.x));
  out.face_y = int(std::lround(first.box.y));
  out.face_width = int(std::lround(first.box.w));
  out.face_height = int(std::lround(first.box.h));
  out.portrait = portrait(Frame{video.frame(first.t), video.width, video.height}, first.box);
  return out;
}

}  // namespace opsis::cameo
