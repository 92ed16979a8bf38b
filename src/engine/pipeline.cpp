#include "engine/pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.hpp"

namespace opsis::engine {
namespace {

std::string sizes_text(const Capabilities& caps) {
  std::ostringstream out;
  for (size_t i = 0; i < caps.sizes.size(); ++i)
    out << (i ? ", " : "") << caps.sizes[i].first << "x" << caps.sizes[i].second;
  return out.str();
}

}  // namespace

GenerateRequest Pipeline::validate(const GenerateRequest& input) const {
  const Capabilities caps = backend_.capabilities();
  GenerateRequest r = input;
  if (r.prompt.find_first_not_of(" \t\r\n") == std::string::npos)
    throw InvalidArgument("prompt", "the prompt is empty");
  if (!(r.seconds >= caps.min_seconds && r.seconds <= caps.max_seconds)) {
    std::ostringstream msg;
    msg << "seconds must be between " << caps.min_seconds << " and " << caps.max_seconds << ", got " << r.seconds;
    throw InvalidArgument("seconds", msg.str());
  }
  if (r.width == 0 && r.height == 0 && !caps.sizes.empty()) {
    r.width = caps.sizes.front().first;
    r.height = caps.sizes.front().second;
  }
  if (std::find(caps.sizes.begin(), caps.sizes.end(), std::pair{r.width, r.height}) == caps.sizes.end())
    throw InvalidArgument("size", caps.name + " cannot make " + std::to_string(r.width) + "x" +
                                      std::to_string(r.height) + "; it makes " + sizes_text(caps));
  if (r.steps == 0) r.steps = caps.default_steps;
  if (r.steps < 1 || r.steps > 1000)
    throw InvalidArgument("steps", "steps must be between 1 and 1000, got " + std::to_string(r.steps));
  if (!r.guidance_video) r.guidance_video = caps.default_guidance_video;
  if (!r.guidance_audio) r.guidance_audio = caps.default_guidance_audio;
  for (double g : {*r.guidance_video, *r.guidance_audio})
    if (!(g >= 0 && g <= 30)) throw InvalidArgument("guidance", "guidance must be between 0 and 30");
  if (r.first_frame) {
    if (!caps.image_conditioning) throw InvalidArgument("image", caps.name + " does not take a first-frame image");
    if (r.first_frame->width != r.width || r.first_frame->height != r.height ||
        r.first_frame->pixels.size() != size_t(r.width) * size_t(r.height) * 3)
      throw InvalidArgument("image", "the first-frame image must be " + std::to_string(r.width) + "x" +
                                         std::to_string(r.height) + " (resize it to the output size)");
  }
  if (r.identity) {
    if (!caps.identity_conditioning) throw InvalidArgument("cameo", caps.name + " does not take an identity reference");
    if (r.identity->width < 8 || r.identity->height < 8 ||
        r.identity->pixels.size() != size_t(r.identity->width) * size_t(r.identity->height) * 3)
      throw InvalidArgument("cameo", "the identity reference image is empty or too small (at least 8x8)");
  }
  if (!r.phonemes.empty() && !caps.dialogue_conditioning)
    throw InvalidArgument("dialogue", caps.name + " does not take dialogue");
  return r;
}

GeneratedClip Pipeline::run(const GenerateRequest& input, const Progress* progress) {
  const GenerateRequest r = validate(input);
  const Capabilities caps = backend_.capabilities();
  const int total_frames = std::max(1, int(std::lround(r.seconds * caps.fps)));
  const int window_frames_max = std::max(2, int(std::lround(caps.window_seconds * caps.fps)));
  // A window after the first also regenerates the previous window's last frame, so it holds at
  // most window_frames_max - 1 new frames; the windows share the frames evenly.
  const int windows = total_frames <= window_frames_max
                          ? 1
                          : (total_frames + window_frames_max - 2) / (window_frames_max - 1);

  GeneratedClip out;
  out.video.width = r.width;
  out.video.height = r.height;
  out.video.fps_num = caps.fps;
  out.video.fps_den = 1;
  out.audio.sample_rate = caps.sample_rate > 0 ? caps.sample_rate : 48000;
  out.audio.channels = 1;

  int frames_done = 0;
  std::optional<Image> carried = r.first_frame;
  std::vector<float> carried_state;  // the backend's own continuation (decode -> next window's encode)
  for (int w = 0; w < windows; ++w) {
    const int frames_here = (total_frames - frames_done) / (windows - w);
    // A window after the first starts from the previous window's last frame and regenerates it:
    // that frame is dropped, so the window asks for one more.
    const int skip = w == 0 ? 0 : 1;
    const double window_start = double(frames_done - skip) / caps.fps;
    WindowRequest wr;
    wr.prompt = r.prompt;
    wr.negative = r.negative;
    wr.seconds = double(frames_here + skip) / caps.fps;
    wr.width = r.width;
    wr.height = r.height;
    wr.first_frame = carried;
    wr.carry = carried_state;
    wr.identity = r.identity;
    wr.time_offset = window_start;
    for (const PhonemeCue& cue : r.phonemes) {
      if (cue.start + cue.duration < window_start || cue.start > window_start + wr.seconds) continue;
      PhonemeCue shifted = cue;
      shifted.start -= window_start;
      wr.phonemes.push_back(shifted);
    }

    const Encoded encoded = backend_.encode(wr);
    SamplerOptions options;
    options.steps = r.steps;
    options.solver = r.solver;
    options.shift = caps.timestep_shift;
    options.guidance_video = *r.guidance_video;
    options.guidance_audio = *r.guidance_audio;
    options.seed = r.seed + 0x9e3779b97f4a7c15ull * uint64_t(w);
    Progress window_progress;
    if (progress) {
      window_progress.report = [&, w](double f) {
        if (progress->report) progress->report((w + f) / windows);
      };
      window_progress.cancelled = progress->cancelled;
    }
    std::optional<Latents> own = backend_.sample_window(encoded, options, progress ? &window_progress : nullptr);
    const Latents x = own ? std::move(*own) : sample(backend_, encoded, options, progress ? &window_progress : nullptr);
    Decoded decoded = backend_.decode(x, wr);
    if (decoded.video.width != r.width || decoded.video.height != r.height ||
        decoded.video.frame_count() < frames_here + skip)
      throw std::logic_error("backend decoded a window of the wrong size");
    const size_t fb = decoded.video.frame_bytes();
    out.video.rgb.insert(out.video.rgb.end(), decoded.video.rgb.begin() + std::ptrdiff_t(skip * fb),
                         decoded.video.rgb.begin() + std::ptrdiff_t((skip + frames_here) * fb));
    if (caps.sample_rate > 0) {
      const size_t samples_per_frame_num = size_t(caps.sample_rate);
      const size_t begin = size_t(skip) * samples_per_frame_num / size_t(caps.fps);
      const size_t end = size_t(skip + frames_here) * samples_per_frame_num / size_t(caps.fps);
      std::vector<float>& s = decoded.audio.samples;
      s.resize(std::max(s.size(), end), 0.0f);
      // The regenerated frame's sound overlaps the end of what the last window made: cross-fade
      // over it (linear, one frame long) so the windows join without a click.
      const size_t overlap = std::min(begin, out.audio.samples.size());
      for (size_t i = 0; i < overlap; ++i) {
        const float a = float(i + 1) / float(overlap + 1);
        float& kept = out.audio.samples[out.audio.samples.size() - overlap + i];
        kept = (1 - a) * kept + a * s[i];
      }
      out.audio.samples.insert(out.audio.samples.end(), s.begin() + std::ptrdiff_t(begin), s.begin() + std::ptrdiff_t(end));
    }
    carried = decoded.video.frame_image(skip + frames_here - 1);
    carried_state = std::move(decoded.carry);
    frames_done += frames_here;
  }
  if (caps.sample_rate > 0) {
    out.audio.samples.resize(size_t(std::llround(double(total_frames) / caps.fps * caps.sample_rate)), 0.0f);
    if (!r.speech.samples.empty()) mix_into(out.audio, r.speech);
  } else {
    out.audio.samples.clear();
  }
  Progress::step(progress, 1.0);
  return out;
}

void mix_into(Audio& audio, const Audio& speech) {
  const size_t n = audio.frame_count();
  const size_t channels = size_t(std::max(1, audio.channels));
  const size_t speech_frames = speech.frame_count();
  const double ratio = double(speech.sample_rate) / double(audio.sample_rate);
  float peak = 0;
  for (size_t i = 0; i < n; ++i) {
    const double position = double(i) * ratio;
    const size_t j = size_t(position);
    if (j + 1 >= speech_frames) {
      for (size_t c = 0; c < channels; ++c) peak = std::max(peak, std::fabs(audio.samples[i * channels + c]));
      continue;
    }
    const double frac = position - double(j);
    const size_t sc = size_t(std::max(1, speech.channels));
    const float value = float((1 - frac) * speech.samples[j * sc] + frac * speech.samples[(j + 1) * sc]);
    for (size_t c = 0; c < channels; ++c) {
      float& sample = audio.samples[i * channels + c];
      sample += value;
      peak = std::max(peak, std::fabs(sample));
    }
  }
  if (peak > 0.98f)
    for (float& sample : audio.samples) sample *= 0.98f / peak;
}

}  // namespace opsis::engine
