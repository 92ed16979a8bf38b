#include "media/mp4.hpp"
#include "media/mp4_limited.hpp"

#include <cstring>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <system_error>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include "core/error.hpp"
#include "media/temporary_file.hpp"

namespace opsis::media {
namespace {

constexpr int kMaxSide = 1920;
constexpr int kMinSide = 16;

std::string av_error_text(int code) {
  std::array<char, AV_ERROR_MAX_STRING_SIZE> text{};
  av_strerror(code, text.data(), text.size());
  return text.data();
}

// Throws IoError("<what>: <FFmpeg's reason>") for a negative FFmpeg return code.
int check_av(int code, const std::string& what) {
  if (code < 0) throw IoError(what + ": " + av_error_text(code));
  return code;
}

struct CodecContextFree {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwsFree {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct SwrFree {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
// An output context owns its AVIOContext only while it is open.
struct OutputFormatFree {
  void operator()(AVFormatContext* f) const {
    if (f->pb && !(f->oformat->flags & AVFMT_NOFILE)) avio_closep(&f->pb);
    avformat_free_context(f);
  }
};
struct InputFormatFree {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};

using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFree>;
using FramePtr = std::unique_ptr<AVFrame, FrameFree>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFree>;
using SwsPtr = std::unique_ptr<SwsContext, SwsFree>;
using SwrPtr = std::unique_ptr<SwrContext, SwrFree>;
using OutputFormatPtr = std::unique_ptr<AVFormatContext, OutputFormatFree>;
using InputFormatPtr = std::unique_ptr<AVFormatContext, InputFormatFree>;

// The first entry an FFmpeg call left unconsumed in its options, or "".
std::string first_key(const AVDictionary* options) {
  const AVDictionaryEntry* entry = av_dict_get(options, "", nullptr, AV_DICT_IGNORE_SUFFIX);
  return entry ? entry->key : "";
}

FramePtr make_frame() {
  FramePtr frame(av_frame_alloc());
  if (!frame) throw IoError("out of memory allocating an FFmpeg frame");
  return frame;
}

PacketPtr make_packet() {
  PacketPtr packet(av_packet_alloc());
  if (!packet) throw IoError("out of memory allocating an FFmpeg packet");
  return packet;
}

bool is_aac_sample_rate(int rate) {
  static constexpr int kRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                   22050, 16000, 12000, 11025, 8000,  7350};
  return std::find(std::begin(kRates), std::end(kRates), rate) != std::end(kRates);
}

void validate(const Video& video, const Audio& audio, const Mp4Options& options) {
  auto side_ok = [](int v) { return v >= kMinSide && v <= kMaxSide && v % 2 == 0; };
  if (!side_ok(video.width) || !side_ok(video.height)) {
    throw InvalidArgument("size", "video size " + std::to_string(video.width) + "x" +
                                      std::to_string(video.height) +
                                      " is not allowed: width and height must be even and "
                                      "between " + std::to_string(kMinSide) + " and " +
                                      std::to_string(kMaxSide));
  }
  if (video.fps_num <= 0 || video.fps_den <= 0) {
    throw InvalidArgument("fps", "frame rate " + std::to_string(video.fps_num) + "/" +
                                     std::to_string(video.fps_den) + " is not positive");
  }
  if (video.rgb.size() % video.frame_bytes() != 0) {
    throw InvalidArgument("video", "video pixel buffer holds " + std::to_string(video.rgb.size()) +
                                       " bytes, not a whole number of " +
                                       std::to_string(video.width) + "x" +
                                       std::to_string(video.height) + " RGB frames");
  }
  if (video.frame_count() == 0) throw InvalidArgument("video", "video has no frames");
  if (!audio.samples.empty()) {
    if (audio.channels != 1 && audio.channels != 2) {
      throw InvalidArgument("audio", "audio must be mono or stereo, got " +
                                         std::to_string(audio.channels) + " channels");
    }
    if (audio.samples.size() % size_t(audio.channels) != 0) {
      throw InvalidArgument("audio", "audio sample count is not a multiple of its channel count");
    }
    if (audio.sample_rate <= 0) {
      throw InvalidArgument("audio", "audio sample rate " + std::to_string(audio.sample_rate) +
                                         " is not positive");
    }
  }
  if (!is_aac_sample_rate(options.audio_sample_rate)) {
    throw InvalidArgument("audio_sample_rate",
                          "AAC cannot carry " + std::to_string(options.audio_sample_rate) +
                              " Hz; use 48000, 44100, 32000, 24000, 22050, 16000 or another "
                              "AAC rate");
  }
  if (options.crf < 0 || options.crf > 51) {
    throw InvalidArgument("crf", "crf must be between 0 and 51, got " + std::to_string(options.crf));
  }
  if (options.audio_bitrate < 8000 || options.audio_bitrate > 512000) {
    throw InvalidArgument("audio_bitrate", "audio bitrate must be between 8000 and 512000 bits/s");
  }
  static constexpr const char* kPresets[] = {"ultrafast", "superfast", "veryfast", "faster",
                                              "fast",      "medium",    "slow",     "slower",
                                              "veryslow",  "placebo"};
  if (std::find(std::begin(kPresets), std::end(kPresets), options.preset) == std::end(kPresets)) {
    throw InvalidArgument("preset", "unknown x264 preset '" + options.preset +
                                        "'; use ultrafast, superfast, veryfast, faster, fast, "
                                        "medium, slow, slower, veryslow or placebo");
  }
  if (options.threads < 0) throw InvalidArgument("threads", "threads must be 0 (auto) or more");
}

AVChannelLayout default_layout(int channels) {
  AVChannelLayout layout{};
  av_channel_layout_default(&layout, channels);
  return layout;
}

// Resamples interleaved float PCM [frames, channels] from one rate to another.
std::vector<float> resample_interleaved(const std::vector<float>& samples, int channels,
                                        int from_rate, int to_rate) {
  if (from_rate == to_rate || samples.empty()) return samples;
  AVChannelLayout layout = default_layout(channels);
  SwrContext* raw = nullptr;
  check_av(swr_alloc_set_opts2(&raw, &layout, AV_SAMPLE_FMT_FLT, to_rate, &layout,
                               AV_SAMPLE_FMT_FLT, from_rate, 0, nullptr),
           "cannot set up the audio resampler");
  SwrPtr swr(raw);
  check_av(swr_init(swr.get()), "cannot start the audio resampler");
  const int in_frames = int(samples.size() / size_t(channels));
  const int capacity = swr_get_out_samples(swr.get(), in_frames) + 256;
  std::vector<float> out(size_t(capacity) * size_t(channels));
  uint8_t* out_planes[1] = {reinterpret_cast<uint8_t*>(out.data())};
  const uint8_t* in_planes[1] = {reinterpret_cast<const uint8_t*>(samples.data())};
  int produced = check_av(swr_convert(swr.get(), out_planes, capacity, in_planes, in_frames),
                          "audio resampling failed");
  for (;;) {
    uint8_t* tail[1] = {reinterpret_cast<uint8_t*>(out.data() + size_t(produced) * size_t(channels))};
    const int n = check_av(swr_convert(swr.get(), tail, capacity - produced, nullptr, 0),
                           "audio resampling failed");
    if (n == 0) break;
    produced += n;
  }
  out.resize(size_t(produced) * size_t(channels));
  return out;
}

// Everything one write needs; destroyed (closing the file) before the rename or the removal.
class Mp4Writer {
 public:
  Mp4Writer(const std::string& file, const Video& video, const Audio& audio,
            const Mp4Options& options)
      : video_(video), options_(options) {
    AVFormatContext* raw = nullptr;
    check_av(avformat_alloc_output_context2(&raw, nullptr, "mp4", file.c_str()),
             "cannot set up the MP4 muxer");
    format_.reset(raw);
    open_video_encoder();
    if (!audio.samples.empty()) {
      prepare_audio(audio);
      open_audio_encoder();
    }
    const int rc = avio_open(&format_->pb, file.c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) throw IoError("cannot create " + file + ": " + av_error_text(rc));

    AVDictionary* muxer_options = nullptr;
    av_dict_set(&muxer_options, "movflags", "+faststart", 0);
    // A movie timescale that divides the frame duration and the audio sample duration
    // exactly, so the container's duration is exactly frames / fps (the default is 1 ms).
    const long long timescale = std::lcm<long long>(video.fps_num, options.audio_sample_rate);
    if (timescale <= 0x7fffffff) av_dict_set_int(&muxer_options, "movie_timescale", timescale, 0);
    const int header = avformat_write_header(format_.get(), &muxer_options);
    const std::string rejected = first_key(muxer_options);
    av_dict_free(&muxer_options);
    check_av(header, "cannot write the MP4 header");
    if (!rejected.empty()) throw IoError("the MP4 muxer did not accept option " + rejected);
  }

  void write(const Progress* progress) {
    const int frames = video_.frame_count();
    FramePtr yuv = make_frame();
    yuv->format = AV_PIX_FMT_YUV420P;
    yuv->width = video_.width;
    yuv->height = video_.height;
    check_av(av_frame_get_buffer(yuv.get(), 0), "cannot allocate a video frame");
    SwsPtr sws(sws_getContext(video_.width, video_.height, AV_PIX_FMT_RGB24, video_.width,
                              video_.height, AV_PIX_FMT_YUV420P,
                              SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr,
                              nullptr, nullptr));
    if (!sws) throw IoError("cannot set up the RGB to YUV converter");
    // Full-range RGB in, limited-range BT.709 YUV out (tagged so on the stream).
    check_av(sws_setColorspaceDetails(sws.get(), sws_getCoefficients(SWS_CS_ITU709), 1,
                                      sws_getCoefficients(SWS_CS_ITU709), 0, 0, 1 << 16, 1 << 16),
             "cannot set the colour conversion");

    // swscale's SIMD readers load 16 bytes at a time and run past the end of a packed RGB
    // picture (valgrind caught it on the last frame), so each frame is staged in a buffer with
    // rows padded to 64 bytes and slack at the end.
    const size_t row_bytes = size_t(video_.width) * 3;
    const size_t staged_stride = (row_bytes + 63) / 64 * 64;
    std::vector<uint8_t> staged(staged_stride * size_t(video_.height) + 64);
    for (int t = 0; t < frames; ++t) {
      check_av(av_frame_make_writable(yuv.get()), "cannot reuse the video frame");
      for (int y = 0; y < video_.height; ++y) {
        std::copy_n(video_.frame(t) + size_t(y) * row_bytes, row_bytes,
                    staged.data() + size_t(y) * staged_stride);
      }
      const uint8_t* src_planes[1] = {staged.data()};
      const int src_strides[1] = {int(staged_stride)};
      sws_scale(sws.get(), src_planes, src_strides, 0, video_.height, yuv->data, yuv->linesize);
      yuv->pts = t;
      encode(video_codec_.get(), video_stream_, yuv.get(), /*constant_duration=*/1);
      if (audio_codec_) {
        // Audio up to the end of frame t, so the muxer interleaves without buffering.
        const int64_t until = int64_t(audio_total_) * (t + 1) / frames;
        send_audio_until(until);
      }
      Progress::step(progress, double(t + 1) / frames);
    }
    encode(video_codec_.get(), video_stream_, nullptr, 1);
    if (audio_codec_) {
      send_audio_until(audio_total_);
      encode(audio_codec_.get(), audio_stream_, nullptr, 0);
    }
    check_av(av_write_trailer(format_.get()), "cannot finish the MP4 file");
    check_av(avio_closep(&format_->pb), "cannot close the MP4 file");
  }

 private:
  void open_video_encoder() {
    const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) throw IoError("this FFmpeg has no libx264 encoder; install libavcodec with x264");
    video_codec_.reset(avcodec_alloc_context3(codec));
    if (!video_codec_) throw IoError("out of memory allocating the H.264 encoder");
    AVCodecContext* c = video_codec_.get();
    c->width = video_.width;
    c->height = video_.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = AVRational{video_.fps_den, video_.fps_num};
    c->framerate = AVRational{video_.fps_num, video_.fps_den};
    c->sample_aspect_ratio = AVRational{1, 1};
    // A key frame every 2 s keeps seeking in players quick.
    c->gop_size = std::max(1, int(std::lround(2.0 * video_.fps())));
    c->color_range = AVCOL_RANGE_MPEG;
    c->color_primaries = AVCOL_PRI_BT709;
    c->color_trc = AVCOL_TRC_BT709;
    c->colorspace = AVCOL_SPC_BT709;
    c->thread_count = options_.threads;
    if (format_->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* codec_options = nullptr;
    av_dict_set(&codec_options, "preset", options_.preset.c_str(), 0);
    av_dict_set_int(&codec_options, "crf", options_.crf, 0);
    const int rc = avcodec_open2(c, codec, &codec_options);
    const std::string rejected = first_key(codec_options);
    av_dict_free(&codec_options);
    if (rc < 0) {
      throw IoError("cannot open the H.264 encoder (preset '" + options_.preset +
                    "'): " + av_error_text(rc));
    }
    if (!rejected.empty()) throw IoError("the H.264 encoder did not accept option " + rejected);
    video_stream_ = avformat_new_stream(format_.get(), nullptr);
    if (!video_stream_) throw IoError("cannot add the video stream");
    video_stream_->time_base = c->time_base;
    video_stream_->avg_frame_rate = c->framerate;
    check_av(avcodec_parameters_from_context(video_stream_->codecpar, c),
             "cannot describe the video stream");
  }

  // Resamples to the output rate, then pads with silence or trims to exactly the video's
  // length, as planar float: audio_planes_[channel][sample].
  void prepare_audio(const Audio& audio) {
    const int rate = options_.audio_sample_rate;
    channels_ = audio.channels;
    std::vector<float> interleaved =
        resample_interleaved(audio.samples, audio.channels, audio.sample_rate, rate);
    // samples = frames * fps_den / fps_num * rate, rounded to the nearest sample.
    const int64_t numerator = int64_t(video_.frame_count()) * video_.fps_den * rate;
    audio_total_ = (numerator + video_.fps_num / 2) / video_.fps_num;
    const int64_t available = int64_t(interleaved.size()) / channels_;
    audio_planes_.assign(size_t(channels_), std::vector<float>(size_t(audio_total_), 0.0f));
    const int64_t copied = std::min(available, audio_total_);
    for (int64_t i = 0; i < copied; ++i) {
      for (int ch = 0; ch < channels_; ++ch) {
        audio_planes_[size_t(ch)][size_t(i)] = interleaved[size_t(i * channels_ + ch)];
      }
    }
  }

  void open_audio_encoder() {
    const AVCodec* codec = avcodec_find_encoder_by_name("aac");
    if (!codec) throw IoError("this FFmpeg has no native AAC encoder");
    audio_codec_.reset(avcodec_alloc_context3(codec));
    if (!audio_codec_) throw IoError("out of memory allocating the AAC encoder");
    AVCodecContext* c = audio_codec_.get();
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = options_.audio_sample_rate;
    c->ch_layout = default_layout(channels_);
    c->bit_rate = options_.audio_bitrate;
    c->profile = FF_PROFILE_AAC_LOW;
    c->time_base = AVRational{1, c->sample_rate};
    if (format_->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check_av(avcodec_open2(c, codec, nullptr), "cannot open the AAC encoder");
    // The encoder emits its first packet at pts = -initial_padding (1024 priming samples);
    // the mov muxer turns that negative start into an edit list that players honour.
    audio_stream_ = avformat_new_stream(format_.get(), nullptr);
    if (!audio_stream_) throw IoError("cannot add the audio stream");
    audio_stream_->time_base = c->time_base;
    check_av(avcodec_parameters_from_context(audio_stream_->codecpar, c),
             "cannot describe the audio stream");
    audio_frame_ = make_frame();
  }

  void send_audio_until(int64_t until) {
    AVCodecContext* c = audio_codec_.get();
    const int frame_size = c->frame_size > 0 ? c->frame_size : 1024;
    while (audio_sent_ < until) {
      // Only the last frame may be short (the AAC encoder accepts a small last frame).
      const int64_t remaining_total = audio_total_ - audio_sent_;
      if (remaining_total >= frame_size && until - audio_sent_ < frame_size) break;
      const int n = int(std::min<int64_t>(frame_size, remaining_total));
      AVFrame* f = audio_frame_.get();
      av_frame_unref(f);
      f->format = AV_SAMPLE_FMT_FLTP;
      f->sample_rate = c->sample_rate;
      check_av(av_channel_layout_copy(&f->ch_layout, &c->ch_layout), "cannot set the audio layout");
      f->nb_samples = n;
      check_av(av_frame_get_buffer(f, 0), "cannot allocate an audio frame");
      for (int ch = 0; ch < channels_; ++ch) {
        std::copy_n(audio_planes_[size_t(ch)].data() + audio_sent_, n,
                    reinterpret_cast<float*>(f->data[ch]));
      }
      f->pts = audio_sent_;
      encode(c, audio_stream_, f, 0);
      audio_sent_ += n;
    }
  }

  // Sends one frame (or nullptr to flush) and writes every packet the encoder returns.
  // constant_duration > 0 sets each packet's duration in codec time base units (CFR video).
  void encode(AVCodecContext* codec, AVStream* stream, const AVFrame* frame,
              int64_t constant_duration) {
    check_av(avcodec_send_frame(codec, frame), "encoding failed");
    PacketPtr packet = make_packet();
    for (;;) {
      const int rc = avcodec_receive_packet(codec, packet.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      check_av(rc, "encoding failed");
      if (constant_duration > 0) packet->duration = constant_duration;
      av_packet_rescale_ts(packet.get(), codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      check_av(av_interleaved_write_frame(format_.get(), packet.get()), "cannot write to the MP4 file");
    }
  }

  const Video& video_;
  const Mp4Options& options_;
  OutputFormatPtr format_;
  CodecContextPtr video_codec_;
  CodecContextPtr audio_codec_;
  AVStream* video_stream_ = nullptr;
  AVStream* audio_stream_ = nullptr;
  FramePtr audio_frame_;
  int channels_ = 0;
  int64_t audio_total_ = 0;
  int64_t audio_sent_ = 0;
  std::vector<std::vector<float>> audio_planes_;
};

void remove_quietly(const std::string& file) {
  std::error_code ignored;
  std::filesystem::remove(file, ignored);
}

// FFmpeg prints codec statistics at AV_LOG_INFO by default; failures reach callers as
// exceptions, so only its errors are worth a line on stderr. A level the program chose stays.
void quiet_ffmpeg_logs() {
  static const bool once = [] {
    if (av_log_get_level() == AV_LOG_INFO) av_log_set_level(AV_LOG_ERROR);
    return true;
  }();
  (void)once;
}

}  // namespace

void write_mp4(const std::string& path, const Video& video, const Audio& audio,
               const Mp4Options& options, const Progress* progress) {
  validate(video, audio, options);
  quiet_ffmpeg_logs();
  const std::filesystem::path destination(path);
  if (destination.filename().empty()) {
    throw InvalidArgument("path", "'" + path + "' names a directory, not an MP4 file");
  }
  const std::filesystem::path folder =
      destination.parent_path().empty() ? std::filesystem::path(".") : destination.parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    throw IoError("cannot write " + path + ": folder " + folder.string() + " does not exist");
  }
  const std::string temporary = detail::temporary_path_beside(destination);
  try {
    {
      Mp4Writer writer(temporary, video, audio, options);
      writer.write(progress);
    }
    std::filesystem::rename(temporary, destination, ec);
    if (ec) throw IoError("cannot move the finished MP4 to " + path + ": " + ec.message());
  } catch (const IoError& e) {
    remove_quietly(temporary);
    const std::string message = e.what();
    if (message.find(path) == std::string::npos) throw IoError("cannot write " + path + ": " + message);
    throw;
  } catch (...) {
    remove_quietly(temporary);
    throw;
  }
}

namespace {

// Decodes one stream; frames come back through `on_frame`.
class StreamDecoder {
 public:
  StreamDecoder(AVStream* stream, int threads) : stream_(stream) {
    const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
    if (!codec) {
      throw IoError(std::string("no decoder for ") + avcodec_get_name(stream->codecpar->codec_id));
    }
    context_.reset(avcodec_alloc_context3(codec));
    if (!context_) throw IoError("out of memory allocating a decoder");
    check_av(avcodec_parameters_to_context(context_.get(), stream->codecpar),
             "cannot configure the decoder");
    context_->pkt_timebase = stream->time_base;
    context_->thread_count = threads;
    check_av(avcodec_open2(context_.get(), codec, nullptr),
             std::string("cannot open the ") + codec->name + " decoder");
    frame_ = make_frame();
  }

  template <typename OnFrame>
  void decode(const AVPacket* packet, OnFrame&& on_frame) {
    const int sent = avcodec_send_packet(context_.get(), packet);
    if (sent < 0 && sent != AVERROR_EOF) check_av(sent, "decoding failed");
    for (;;) {
      const int rc = avcodec_receive_frame(context_.get(), frame_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      check_av(rc, "decoding failed");
      on_frame(frame_.get());
      av_frame_unref(frame_.get());
    }
  }

  AVStream* stream() const { return stream_; }
  AVCodecContext* context() const { return context_.get(); }

 private:
  AVStream* stream_;
  CodecContextPtr context_;
  FramePtr frame_;
};

int sws_colorspace_of(const AVFrame* frame) {
  switch (frame->colorspace) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: return SWS_CS_ITU601;
    default:
      // Untagged: players assume BT.709 for HD and BT.601 below it.
      return frame->height >= 720 ? SWS_CS_ITU709 : SWS_CS_ITU601;
  }
}

// swscale's SIMD path (chroma repeated, not interpolated): 0.3 ms a 720p frame against 7 ms
// with SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, which gains about 1.5 dB only on hard chroma edges.
class RgbConverter {
 public:
  // expected_frames: the container's frame count, to allocate once (growing a buffer of
  // hundreds of MB by doubling spent half the read time in page faults and copies).
  // max_side > 0: frames are scaled down (aspect kept, even sides) so neither side exceeds it,
  // and a stream that changes size mid-way is scaled to its first frame's output size.
  explicit RgbConverter(int64_t expected_frames, int max_side = 0) : expected_frames_(expected_frames), max_side_(max_side) {}

  void append(const AVFrame* frame, Video& video) {
    if (video.width == 0) {
      video.width = frame->width;
      video.height = frame->height;
      if (max_side_ > 0 && std::max(frame->width, frame->height) > max_side_) {
        const double scale = double(max_side_) / std::max(frame->width, frame->height);
        video.width = std::max(2, int(std::lround(frame->width * scale / 2)) * 2);
        video.height = std::max(2, int(std::lround(frame->height * scale / 2)) * 2);
      }
      first_width_ = frame->width;
      first_height_ = frame->height;
      if (expected_frames_ > 0 && expected_frames_ < 1'000'000) {
        video.rgb.reserve(size_t(expected_frames_) * video.frame_bytes());
      }
    }
    if (max_side_ <= 0 && (frame->width != first_width_ || frame->height != first_height_)) {
      throw InvalidArgument("video", "the video changes size mid-stream (" +
                                         std::to_string(video.width) + "x" +
                                         std::to_string(video.height) + " to " +
                                         std::to_string(frame->width) + "x" +
                                         std::to_string(frame->height) + ")");
    }
    sws_.reset(sws_getCachedContext(sws_.release(), frame->width, frame->height,
                                    AVPixelFormat(frame->format), video.width, video.height,
                                    AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws_) throw IoError("cannot set up the YUV to RGB converter");
    const int full_range = frame->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
    const int* coefficients = sws_getCoefficients(sws_colorspace_of(frame));
    check_av(sws_setColorspaceDetails(sws_.get(), coefficients, full_range, coefficients, 1, 0,
                                      1 << 16, 1 << 16),
             "cannot set the colour conversion");
    // swscale's fast YUV->RGB paths write whole 8- and 16-byte words past the end of a row
    // (seen with valgrind at 426 px wide), so convert into a padded scratch frame and copy
    // the rows out.
    const int row_bytes = video.width * 3;
    const int padded_stride = (row_bytes + 63) / 64 * 64;
    scratch_.resize(size_t(padded_stride) * size_t(video.height + 1) + 64);
    uint8_t* dst_planes[1] = {scratch_.data()};
    const int dst_strides[1] = {padded_stride};
    sws_scale(sws_.get(), frame->data, frame->linesize, 0, frame->height, dst_planes, dst_strides);
    const size_t offset = video.rgb.size();
    video.rgb.resize(offset + video.frame_bytes());
    for (int y = 0; y < video.height; ++y)
      std::memcpy(video.rgb.data() + offset + size_t(y) * size_t(row_bytes), scratch_.data() + size_t(y) * size_t(padded_stride),
                  size_t(row_bytes));
  }

 private:
  int64_t expected_frames_;
  int max_side_ = 0;
  int first_width_ = 0, first_height_ = 0;
  SwsPtr sws_;
  std::vector<uint8_t> scratch_;
};

class PcmConverter {
 public:
  explicit PcmConverter(int requested_rate) : requested_rate_(requested_rate) {}

  void append(const AVFrame* frame, Audio& audio) {
    if (!swr_) {
      audio.channels = frame->ch_layout.nb_channels;
      audio.sample_rate = requested_rate_ > 0 ? requested_rate_ : frame->sample_rate;
      in_rate_ = frame->sample_rate;
      SwrContext* raw = nullptr;
      AVChannelLayout out_layout = default_layout(audio.channels);
      check_av(swr_alloc_set_opts2(&raw, &out_layout, AV_SAMPLE_FMT_FLT, audio.sample_rate,
                                   const_cast<AVChannelLayout*>(&frame->ch_layout),
                                   AVSampleFormat(frame->format),
                                   frame->sample_rate, 0, nullptr),
               "cannot set up the audio converter");
      swr_.reset(raw);
      check_av(swr_init(swr_.get()), "cannot start the audio converter");
    }
    if (frame->sample_rate != in_rate_ || frame->ch_layout.nb_channels != audio.channels) {
      throw InvalidArgument("audio", "the audio changes rate or channel count mid-stream");
    }
    convert(frame->extended_data, frame->nb_samples, audio);
  }

  void flush(Audio& audio) {
    if (swr_) convert(nullptr, 0, audio);
  }

 private:
  void convert(const uint8_t* const* input, int in_samples, Audio& audio) {
    for (;;) {
      const int capacity = swr_get_out_samples(swr_.get(), in_samples) + 64;
      const size_t offset = audio.samples.size();
      audio.samples.resize(offset + size_t(capacity) * size_t(audio.channels));
      uint8_t* out_planes[1] = {reinterpret_cast<uint8_t*>(audio.samples.data() + offset)};
      const int n = check_av(swr_convert(swr_.get(), out_planes, capacity,
                                         const_cast<const uint8_t**>(input), in_samples),
                             "audio conversion failed");
      audio.samples.resize(offset + size_t(n) * size_t(audio.channels));
      // With input, one call consumes it all; when flushing, drain until nothing is left.
      if (input || n == 0) return;
    }
  }

  int requested_rate_;
  int in_rate_ = 0;
  SwrPtr swr_;
};

}  // namespace

namespace {
Mp4Contents read_video_file(const std::string& path, int audio_sample_rate, int threads, const Mp4ReadLimits& limits,
                            bool* truncated) {
  if (audio_sample_rate < 0) {
    throw InvalidArgument("audio_sample_rate", "audio sample rate must be 0 (keep) or positive");
  }
  quiet_ffmpeg_logs();
  AVFormatContext* raw = nullptr;
  const int opened = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (opened < 0) {
    if (opened == AVERROR_INVALIDDATA) {
      throw InvalidArgument("video", path + " is not a readable video file");
    }
    throw IoError("cannot read " + path + ": " + av_error_text(opened));
  }
  InputFormatPtr format(raw);
  if (avformat_find_stream_info(format.get(), nullptr) < 0) {
    throw InvalidArgument("video", path + " is not a readable video file (no stream information)");
  }
  const int video_index = av_find_best_stream(format.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (video_index < 0) throw InvalidArgument("video", path + " has no video stream");
  const int audio_index =
      av_find_best_stream(format.get(), AVMEDIA_TYPE_AUDIO, -1, video_index, nullptr, 0);

  Mp4Contents contents;
  AVStream* video_stream = format->streams[video_index];
  StreamDecoder video_decoder(video_stream, threads);
  std::unique_ptr<StreamDecoder> audio_decoder;
  if (audio_index >= 0) {
    audio_decoder = std::make_unique<StreamDecoder>(format->streams[audio_index], threads);
    contents.audio_codec = avcodec_get_name(format->streams[audio_index]->codecpar->codec_id);
  }
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    if (int(i) != video_index && int(i) != audio_index) format->streams[i]->discard = AVDISCARD_ALL;
  }
  contents.video_codec = avcodec_get_name(video_stream->codecpar->codec_id);
  AVRational rate = video_stream->avg_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = video_stream->r_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = AVRational{24, 1};
  contents.video.fps_num = rate.num;
  contents.video.fps_den = rate.den;
  contents.video.width = 0;
  contents.video.height = 0;
  contents.audio.samples.clear();
  contents.audio.channels = 0;
  contents.audio.sample_rate = 0;
  if (format->duration != AV_NOPTS_VALUE) contents.duration = double(format->duration) / AV_TIME_BASE;

  int64_t expected_frames = video_stream->nb_frames;
  if (expected_frames <= 0 && format->duration > 0) {
    expected_frames = int64_t(double(format->duration) / AV_TIME_BASE * av_q2d(rate)) + 2;
  }
  if (limits.max_frames > 0 && expected_frames > limits.max_frames) expected_frames = limits.max_frames;
  RgbConverter rgb(expected_frames, limits.max_side);
  PcmConverter pcm(audio_sample_rate);
  auto on_video = [&](const AVFrame* f) { rgb.append(f, contents.video); };
  auto on_audio = [&](const AVFrame* f) { pcm.append(f, contents.audio); };
  PacketPtr packet = make_packet();
  for (;;) {
    const int rc = av_read_frame(format.get(), packet.get());
    if (rc == AVERROR_EOF) break;
    check_av(rc, "cannot read " + path);
    if (limits.max_frames > 0 && contents.video.frame_count() >= limits.max_frames) {
      if (truncated) *truncated = true;
      av_packet_unref(packet.get());
      break;
    }
    if (packet->stream_index == video_index) {
      video_decoder.decode(packet.get(), on_video);
    } else if (audio_decoder && packet->stream_index == audio_index) {
      audio_decoder->decode(packet.get(), on_audio);
    }
    av_packet_unref(packet.get());
  }
  video_decoder.decode(nullptr, on_video);
  if (audio_decoder) {
    audio_decoder->decode(nullptr, on_audio);
    pcm.flush(contents.audio);
    // libavformat applies the start of an edit list (the encoder's priming is skipped) but
    // not its end: the last AAC frame is decoded whole. The stream duration is the edit's
    // length, so cut the padding there.
    const AVStream* stream = format->streams[audio_index];
    if (stream->duration != AV_NOPTS_VALUE && stream->duration > 0 && contents.audio.channels > 0) {
      const int64_t keep = av_rescale_q(stream->duration, stream->time_base,
                                        AVRational{1, contents.audio.sample_rate});
      if (int64_t(contents.audio.frame_count()) > keep) {
        contents.audio.samples.resize(size_t(keep) * size_t(contents.audio.channels));
      }
    }
  }
  if (contents.video.frame_count() == 0) throw InvalidArgument("video", path + " has no video frames");
  if (contents.audio.channels == 0) {
    contents.audio.channels = 1;
    contents.audio.sample_rate = audio_sample_rate > 0 ? audio_sample_rate : 48000;
  }
  return contents;
}

}  // namespace

Mp4Contents read_mp4(const std::string& path, int audio_sample_rate, int threads) {
  return read_video_file(path, audio_sample_rate, threads, {}, nullptr);
}

Mp4Contents read_mp4_limited(const std::string& path, int audio_sample_rate, const Mp4ReadLimits& limits, bool* truncated) {
  if (truncated) *truncated = false;
  return read_video_file(path, audio_sample_rate, 0, limits, truncated);
}

}  // namespace opsis::media
