// The server's layers below HTTP, with the real studio model, stores and media code. The
// HTTP API itself is tested through the openai SDK (tests/api, CTest server_api_*).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <filesystem>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "media/image_io.hpp"
#include "media/mp4.hpp"
#include "server/api_error.hpp"
#include "server/api_keys.hpp"
#include "server/encoding.hpp"
#include "server/http_server.hpp"
#include "server/image_fetch.hpp"
#include "server/image_header.hpp"
#include "server/job_runner.hpp"
#include "server/mp4_probe.hpp"
#include "server/studio_generator.hpp"
#include "server/videos.hpp"
#include "server/webhooks.hpp"
#include "studio/caption.hpp"

namespace opsis::server {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::mt19937_64 rng{std::random_device{}()};
    path_ = fs::temp_directory_path() / ("opsis-server-test-" + std::to_string(rng()));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string str(const std::string& leaf = "") const { return (path_ / leaf).string(); }

 private:
  fs::path path_;
};

struct Fixture {
  TempDir dir;
  std::unique_ptr<store::MetadataStore> store = store::open_sqlite_store(dir.str("opsis.db"));
  std::unique_ptr<store::BlobStore> blobs = store::open_folder_blob_store(dir.str("blobs"));
  std::shared_ptr<ModelRegistry> models = make_default_registry();
  RunnerOptions options() const {
    RunnerOptions o;
    o.scratch_folder = dir.str("scratch");
    return o;
  }
};

store::VideoRecord wait_finished(store::MetadataStore& store, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto video = store.video(id);
    if (!video) throw std::runtime_error("video vanished");
    if (video->status == store::VideoStatus::Completed || video->status == store::VideoStatus::Failed) return *video;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("video did not finish");
}

TEST(ApiKeys, StoredHashedAndCheckedUntilRevoked) {
  Fixture f;
  const CreatedKey key = create_api_key(*f.store, "alice");
  EXPECT_EQ(key.secret.rfind("sk-opsis-", 0), 0u);
  EXPECT_EQ(key.secret.size(), 9u + 48u);
  EXPECT_EQ(key.record.hash, hash_secret(key.secret));
  EXPECT_EQ(key.record.hash.find(key.secret), std::string::npos);
  for (const auto& stored : f.store->keys()) EXPECT_NE(stored.hash, key.secret);
  auto found = authenticate(*f.store, key.secret);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user, "alice");
  EXPECT_FALSE(authenticate(*f.store, key.secret + "x"));
  EXPECT_FALSE(authenticate(*f.store, ""));
  EXPECT_TRUE(any_active_key(*f.store));
  ASSERT_TRUE(f.store->revoke_key(key.record.id, 1));
  EXPECT_FALSE(authenticate(*f.store, key.secret));
  EXPECT_FALSE(any_active_key(*f.store));
  EXPECT_THROW(create_api_key(*f.store, "two words"), InvalidArgument);
  EXPECT_NE(create_api_key(*f.store, "bob").secret, create_api_key(*f.store, "bob").secret);
}

TEST(Webhooks, SignatureMatchesTheStandardWebhooksExample) {
  // The worked example of the Standard Webhooks specification (which OpenAI's SDK verifies).
  EXPECT_EQ(webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                              R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  const SignedWebhook hook = sign_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "evt_1", "video.completed", "video_9", 5);
  EXPECT_EQ(hook.headers.at("webhook-id"), "evt_1");
  EXPECT_EQ(hook.headers.at("webhook-timestamp"), "5");
  EXPECT_NE(hook.body.find("\"video_9\""), std::string::npos);
  EXPECT_EQ(hook.headers.at("webhook-signature"), webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "evt_1", 5, hook.body));
}

// with_errors() once iterated `errors().items()`: a temporary json destroyed before the loop
// ran, so GET /openapi.json walked a freed std::map (a crash in std::_Rb_tree_increment, or
// responses copied from freed memory). With that code this test failed (null responses, or a
// crash; stack-use-after-scope under -fsanitize=address).
TEST(OpenApi, EveryOperationListsTheSharedErrorResponses) {
  for (int round = 0; round < 3; ++round) {
    const nlohmann::json doc = nlohmann::json::parse(openapi_document());
    int operations = 0;
    for (const auto& [path, methods] : doc.at("paths").items()) {
      if (path.rfind("/v1/", 0) != 0) continue;  // /healthz and /metrics answer no API errors
      for (const auto& [method, operation] : methods.items()) {
        ++operations;
        const auto& responses = operation.at("responses");
        for (const char* code : {"400", "401", "404", "413", "429", "500"})
          ASSERT_TRUE(responses.contains(code)) << method << " " << path << " lacks " << code;
        EXPECT_EQ(responses.at("401").value("description", ""), "Missing or invalid API key") << method << " " << path;
        EXPECT_EQ(responses.at("500").at("content").at("application/json").at("schema").value("$ref", ""),
                  "#/components/schemas/Error")
            << method << " " << path;
      }
    }
    EXPECT_GT(operations, 5);
  }
}

TEST(Encoding, Base64RoundTripsAndRejectsGarbage) {
  const std::vector<uint8_t> bytes{0, 1, 2, 250, 251, 252, 253};
  for (size_t n = 0; n <= bytes.size(); ++n) {
    const std::string text = base64_encode(bytes.data(), n);
    auto back = base64_decode(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(n)));
  }
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("ab!="));
}

TEST(StudioGenerator, RemixChangesWhatThePromptNamesAndKeepsTheRest) {
  const std::vector<PromptStep> history{{PromptStep::Use::Create, "A red ball bounces in a meadow", 4},
                                        {PromptStep::Use::Remix, "on a beach at night", 4}};
  const studio::SceneSpec original = scene_for_history({history.front()});
  const studio::SceneSpec remixed = scene_for_history(history);
  EXPECT_EQ(remixed.setting, studio::Setting::Beach);
  EXPECT_EQ(remixed.time_of_day, studio::TimeOfDay::Night);
  EXPECT_EQ(remixed.objects, original.objects);
  ASSERT_FALSE(remixed.objects.empty());
  EXPECT_EQ(remixed.objects[0].color, studio::Color::Red);
  EXPECT_DOUBLE_EQ(remixed.seconds(), 4.0);
}

TEST(StudioGenerator, ExtensionAddsAShotFilmedAsItsPromptSays) {
  const studio::SceneSpec extended = scene_for_history({{PromptStep::Use::Create, "A blue box in a desert", 2},
                                                        {PromptStep::Use::Extend, "the camera pans left", 3}});
  ASSERT_EQ(extended.shots.size(), 2u);
  EXPECT_DOUBLE_EQ(extended.seconds(), 5.0);
  EXPECT_EQ(extended.shots[1].camera, studio::CameraMove::PanLeft);
  EXPECT_EQ(extended.setting, studio::Setting::Desert);
}

TEST(StudioGenerator, FirstFrameIsTheImageThenFadesIntoTheScene) {
  StudioGenerator generator;
  GenerationRequest request;
  request.prompt = "A red ball bounces in a meadow";
  request.seconds = 1;
  request.width = 160;
  request.height = 90;
  const GenerationResult plain = generator.generate(request, nullptr);
  Image white(320, 180);
  std::fill(white.pixels.begin(), white.pixels.end(), 255);
  request.first_frame = white;
  const GenerationResult faded = generator.generate(request, nullptr);
  ASSERT_EQ(faded.video.frame_count(), 24);
  for (size_t i = 0; i < faded.video.frame_bytes(); ++i) ASSERT_EQ(faded.video.frame(0)[i], 255);
  // From frame 12 on, the rendered scene alone; the same seed renders the same scene.
  EXPECT_TRUE(std::equal(plain.video.frame(12), plain.video.frame(12) + plain.video.frame_bytes(), faded.video.frame(12)));
  EXPECT_FALSE(std::equal(plain.video.frame(6), plain.video.frame(6) + plain.video.frame_bytes(), faded.video.frame(6)));
}

TEST(StudioGenerator, CancellationStopsTheRender) {
  StudioGenerator generator;
  GenerationRequest request;
  request.prompt = "A red ball bounces";
  request.seconds = 2;
  request.width = 160;
  request.height = 90;
  int reports = 0;
  Progress progress{[&](double) { ++reports; }, [&] { return reports >= 2; }};
  EXPECT_THROW(generator.generate(request, &progress), Cancelled);
}

TEST(JobRunner, RunsAQueuedJobToCompletionWithValidFiles) {
  Fixture f;
  Metrics* no_metrics = nullptr;
  JobRunner runner(*f.store, *f.blobs, *f.models, f.options(), no_metrics);
  VideoService videos(*f.store, *f.blobs, *f.models, runner, Limits{});
  const Caller alice{"alice", "key_a"};
  CreateVideo create;
  create.prompt = "A yellow balloon floats up on a beach";
  create.seconds = "2";
  create.size = "160x90";
  const store::VideoRecord queued = videos.create(alice, create);
  ASSERT_EQ(f.store->video(queued.id)->status, store::VideoStatus::Queued);  // persisted before any answer
  runner.start();
  const store::VideoRecord done = wait_finished(*f.store, queued.id);
  ASSERT_EQ(done.status, store::VideoStatus::Completed) << done.error_message;
  EXPECT_EQ(done.progress, 100);
  const media::Mp4Contents clip = media::read_mp4(*f.blobs->local_path(done.video_blob));
  EXPECT_EQ(clip.video.width, 160);
  EXPECT_EQ(clip.video.height, 90);
  EXPECT_EQ(clip.video.frame_count(), 48);
  EXPECT_FALSE(clip.audio.samples.empty());
  EXPECT_TRUE(f.blobs->contains(done.thumbnail_blob));
  EXPECT_TRUE(f.blobs->contains(done.spritesheet_blob));
  EXPECT_TRUE(fs::is_empty(f.dir.str("scratch")));

  // Ownership: bob sees nothing of it, with the same answer as for no video at all.
  const Caller bob{"bob", "key_b"};
  for (const auto& attempt : {std::function<void()>([&] { videos.retrieve(bob, queued.id); }),
                              std::function<void()>([&] { videos.content(bob, queued.id, "video"); }),
                              std::function<void()>([&] { videos.remix(bob, queued.id, "at night"); }),
                              std::function<void()>([&] { videos.remove(bob, queued.id); })}) {
    try {
      attempt();
      ADD_FAILURE() << "bob reached alice's video";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 404);
    }
  }
  EXPECT_TRUE(videos.list(bob, {}).videos.empty());

  // Deleting removes the record and, with no other reference, the files.
  videos.remove(alice, queued.id);
  EXPECT_FALSE(f.store->video(queued.id));
  EXPECT_FALSE(f.blobs->contains(done.video_blob));
  runner.shutdown(std::chrono::milliseconds(0));
}

TEST(JobRunner, RecoveryRequeuesOrFailsJobsLeftInProgress) {
  Fixture f;
  auto record = [](const std::string& id, int attempts) {
    store::VideoRecord v;
    v.id = id;
    v.user = "alice";
    v.model = "opsis-studio";
    v.status = store::VideoStatus::InProgress;
    v.progress = 40;
    v.prompt = "A red ball";
    v.size = "160x90";
    v.seconds = "1";
    v.attempts = attempts;
    JobRequest request;
    request.model = "opsis-studio";
    request.step = {PromptStep::Use::Create, "A red ball", 1};
    request.width = 160;
    request.height = 90;
    v.request_json = request.to_json();
    return v;
  };
  f.store->insert_video(record("video_once", 1));
  f.store->insert_video(record("video_thrice", 3));
  std::vector<std::string> finished;
  RunnerOptions options = f.options();
  options.max_attempts = 3;
  JobRunner runner(*f.store, *f.blobs, *f.models, options, nullptr,
                   [&](const store::VideoRecord& v) { finished.push_back(v.id); });
  EXPECT_EQ(runner.recover(), 1);
  const auto once = *f.store->video("video_once");
  EXPECT_EQ(once.status, store::VideoStatus::Queued);
  EXPECT_EQ(once.progress, 0);
  const auto thrice = *f.store->video("video_thrice");
  EXPECT_EQ(thrice.status, store::VideoStatus::Failed);
  EXPECT_EQ(thrice.error_code, "worker_lost");
  EXPECT_EQ(finished, std::vector<std::string>{"video_thrice"});
  runner.start();
  EXPECT_EQ(wait_finished(*f.store, "video_once").status, store::VideoStatus::Completed);
  runner.shutdown(std::chrono::milliseconds(0));
}

TEST(ImageHeader, ClaimsPastPngsLimitAreClampedSoPixelCountsCannotOverflow) {
  // fuzz_image's first finding: 0xFFFFFFFF x 0xFFFF0028 made width * height overflow int64.
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x28, 8, 2, 0, 0, 0};
  const auto dims = image_dimensions(png);
  ASSERT_TRUE(dims);
  EXPECT_EQ(dims->first, 0x7fffffff);
  EXPECT_EQ(dims->second, 0x7fffffff);
  EXPECT_GT(dims->first * dims->second, Limits{}.max_image_pixels);
}

TEST(ImageHeader, DimensionsWithoutDecoding) {
  const Image image(37, 21);
  for (const auto& bytes : {media::encode_png(image), media::encode_jpeg(image), media::encode_webp(image)}) {
    auto dims = image_dimensions(bytes);
    ASSERT_TRUE(dims);
    EXPECT_EQ(dims->first, 37);
    EXPECT_EQ(dims->second, 21);
  }
  EXPECT_FALSE(image_dimensions({1, 2, 3}));
}

TEST(VideoService, RefusesAnImageClaimingTooManyPixelsBeforeDecodingIt) {
  Fixture f;
  JobRunner runner(*f.store, *f.blobs, *f.models, f.options());
  VideoService videos(*f.store, *f.blobs, *f.models, runner, Limits{});
  // A PNG header claiming 30000 x 30000 pixels (3.6 GB once decoded) and nothing else.
  std::vector<uint8_t> png{0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                           0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30, 8, 2, 0, 0, 0, 0, 0, 0, 0};
  CreateVideo create;
  create.prompt = "A red ball";
  create.size = "160x90";
  create.seconds = "1";
  create.input_reference = png;
  try {
    videos.create({"alice", ""}, create);
    ADD_FAILURE() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "input_reference");
    EXPECT_NE(std::string(e.what()).find("30000x30000"), std::string::npos) << e.what();
  }
}

TEST(VideoService, SweeperDeletesExpiredVideosAndTheirFiles) {
  Fixture f;
  JobRunner runner(*f.store, *f.blobs, *f.models, f.options());
  VideoService videos(*f.store, *f.blobs, *f.models, runner, Limits{});
  store::VideoRecord old;
  old.id = "video_old";
  old.user = "alice";
  old.model = "opsis-studio";
  old.status = store::VideoStatus::Completed;
  old.prompt = "p";
  old.size = "160x90";
  old.seconds = "1";
  old.completed_at = 100;
  old.expires_at = 200;
  old.video_blob = f.blobs->put({1, 2, 3});
  store::VideoRecord fresh = old;
  fresh.id = "video_fresh";
  fresh.expires_at = 10'000;
  fresh.video_blob = f.blobs->put({4, 5, 6});
  f.store->insert_video(old);
  f.store->insert_video(fresh);
  EXPECT_EQ(videos.sweep_expired(199), 0);
  EXPECT_EQ(videos.sweep_expired(200), 1);
  EXPECT_FALSE(f.store->video("video_old"));
  EXPECT_FALSE(f.blobs->contains(old.video_blob));
  EXPECT_TRUE(f.store->video("video_fresh"));
  EXPECT_TRUE(f.blobs->contains(fresh.video_blob));
}

TEST(VideoService, DeletingAVideoDropsItsInputImageUnlessAnotherUsesIt) {
  Fixture f;
  JobRunner runner(*f.store, *f.blobs, *f.models, f.options());  // not started: jobs stay queued
  VideoService videos(*f.store, *f.blobs, *f.models, runner, Limits{});
  Image gray(64, 36);
  std::fill(gray.pixels.begin(), gray.pixels.end(), 128);
  CreateVideo create;
  create.prompt = "A red ball";
  create.size = "160x90";
  create.seconds = "1";
  create.input_reference = media::encode_png(gray);
  const std::string key = store::sha256_hex(create.input_reference->data(), create.input_reference->size());
  const Caller alice{"alice", ""};
  const auto first = videos.create(alice, create);
  const auto second = videos.create(alice, create);
  ASSERT_TRUE(f.blobs->contains(key));
  videos.remove(alice, first.id);
  EXPECT_TRUE(f.blobs->contains(key)) << "the second video still needs it";
  videos.remove(alice, second.id);
  EXPECT_FALSE(f.blobs->contains(key));
}

TEST(VideoService, ValidatesFieldsAndLimits) {
  Fixture f;
  JobRunner runner(*f.store, *f.blobs, *f.models, f.options());  // never started: jobs stay queued
  Limits limits;
  limits.max_active_jobs = 2;
  VideoService videos(*f.store, *f.blobs, *f.models, runner, limits);
  const Caller alice{"alice", "key_a"};
  auto expect_field = [&](CreateVideo create, const std::string& field) {
    try {
      videos.create(alice, create);
      ADD_FAILURE() << "accepted a bad " << field;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  };
  CreateVideo good;
  good.prompt = "A red ball";
  good.size = "160x90";
  good.seconds = "1";
  CreateVideo c = good;
  c.size = "161x90";
  expect_field(c, "size");
  c = good;
  c.seconds = "0";
  expect_field(c, "seconds");
  c = good;
  c.model = "sora-3";
  expect_field(c, "model");
  c = good;
  c.prompt = "";
  expect_field(c, "prompt");
  c = good;
  c.input_reference = std::vector<uint8_t>{1, 2, 3};
  expect_field(c, "input_reference");
  EXPECT_EQ(f.store->count_active_for_user("alice"), 0) << "bad input changes nothing";

  const store::VideoRecord made = videos.create(alice, good);
  EXPECT_EQ(made.model, "sora-2");                // the spec's default, echoed as the name asked for
  EXPECT_EQ(model_that_ran(made), "opsis-studio");  // what sora-2 means here
  c = good;
  c.model = "opsis-studio";
  const store::VideoRecord named = videos.create(alice, c);
  EXPECT_EQ(named.model, "opsis-studio");
  EXPECT_EQ(model_that_ran(named), "opsis-studio");
  try {
    videos.create(alice, good);
    ADD_FAILURE() << "a third active job was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 429);
    EXPECT_GT(e.retry_after_seconds, 0);
  }
  EXPECT_EQ(f.store->count_active_for_user("alice"), 2);

  store::ListQuery query;
  query.limit = 0;  // the spec's minimum
  const store::ListPage empty = videos.list(alice, query);
  EXPECT_TRUE(empty.videos.empty());
  EXPECT_TRUE(empty.has_more);
  query.limit = -1;
  EXPECT_THROW(videos.list(alice, query), InvalidArgument);
  query.limit = 101;
  EXPECT_THROW(videos.list(alice, query), InvalidArgument);
}

TEST(VideoService, ConcurrentCreatesKeepThePerUserLimit) {
  Fixture f;
  JobRunner runner(*f.store, *f.blobs, *f.models, f.options());  // never started: jobs stay queued
  Limits limits;
  limits.max_active_jobs = 5;
  limits.jobs_per_minute = 1000;
  VideoService videos(*f.store, *f.blobs, *f.models, runner, limits);
  CreateVideo good;
  good.prompt = "A red ball";
  good.size = "160x90";
  good.seconds = "1";
  std::atomic<int> accepted = 0, refused = 0;
  std::vector<std::thread> clients;
  // Inserts wait for group commits outside the limit's lock; admitted-but-unstored creates count.
  for (int i = 0; i < 24; ++i)
    clients.emplace_back([&] {
      try {
        videos.create({"alice", "key_a"}, good);
        ++accepted;
      } catch (const ApiError& e) {
        if (e.status == 429) ++refused;
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(accepted.load(), 5);
  EXPECT_EQ(refused.load(), 19);
  EXPECT_EQ(f.store->count_active_for_user("alice"), 5);
}

TEST(Encoding, Utf8IsCheckedStrictly) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("A red ball h\xC3\xBC" "pft \xE2\x80\x94 \xF0\x9F\x8E\x88"));
  EXPECT_FALSE(valid_utf8("\xFF"));
  EXPECT_FALSE(valid_utf8("\x80"));                  // a continuation byte alone
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(valid_utf8("\xE0\x80\xAF"));          // overlong
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));          // a UTF-16 surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));      // past U+10FFFF
  EXPECT_FALSE(valid_utf8("ok \xE2\x82"));           // cut off
}

TEST(VideoService, APromptThatIsNotUtf8IsRefusedBeforeQueueing) {
  Fixture f;
  JobRunner runner(*f.store, *f.blobs, *f.models, f.options());
  VideoService videos(*f.store, *f.blobs, *f.models, runner, Limits{});
  CreateVideo c;
  c.prompt = "A red ball \xFF";
  c.size = "160x90";
  c.seconds = "1";
  try {
    videos.create({"alice", ""}, c);
    ADD_FAILURE() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.field(), "prompt");
  }
  EXPECT_EQ(f.store->count_active_for_user("alice"), 0);
}

TEST(ImageFetch, OnlyPublicAddressesAreFetched) {
  for (const char* refused : {"127.0.0.1", "127.255.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                              "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "192.0.2.1",
                              "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
                              "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2001:db8::1", "not an address"})
    EXPECT_FALSE(is_public_address(refused)) << refused;
  for (const char* allowed : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"})
    EXPECT_TRUE(is_public_address(allowed)) << allowed;
}

TEST(ImageFetch, UrlsAreHttpsWithAHostAndNoUserInfo) {
  const FetchUrl url = parse_fetch_url("https://Images.Example.com:8443/a/b.png?x=1#frag");
  EXPECT_EQ(url.host, "images.example.com");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.target, "/a/b.png?x=1");
  EXPECT_EQ(parse_fetch_url("https://[2606:4700::1111]/i.png").host, "2606:4700::1111");
  EXPECT_EQ(parse_fetch_url("https://example.com").target, "/");
  for (const char* bad : {"http://example.com/i.png", "ftp://example.com/i.png", "file:///etc/passwd", "https://user:pw@example.com/",
                          "https://example.com:0/", "https://example.com:99999/", "https:///i.png", "https://exa mple.com/"}) {
    try {
      parse_fetch_url(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), "input_reference") << bad;
    }
  }
}

TEST(ImageFetch, LoopbackAndPrivateHostsAreRefusedAfterResolution) {
  ImageFetchOptions options;
  for (const char* url : {"https://localhost/i.png", "https://127.0.0.1/i.png", "https://[::1]/i.png", "https://10.0.0.1/i.png",
                          "https://169.254.169.254/latest/meta-data/"}) {
    try {
      fetch_image_url(url, options);
      ADD_FAILURE() << "fetched " << url;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("only public addresses"), std::string::npos) << e.what();
    }
  }
  options.enabled = false;
  try {
    fetch_image_url("https://example.com/i.png", options);
    ADD_FAILURE() << "fetched with fetching off";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("does not fetch remote URLs"), std::string::npos) << e.what();
  }
}

// Issue 14: name resolution is under the fetch's time limit too (getaddrinfo has none of its own).
TEST(ImageFetch, ANameLookupThatHangsIsGivenUpAtTheDeadline) {
  ImageFetchOptions options;
  options.timeout_ms = 200;
  options.resolve = [](const char*, const char*, const addrinfo*, addrinfo**) {
    std::this_thread::sleep_for(std::chrono::seconds(2));  // a resolver that never answers in time
    return EAI_AGAIN;
  };
  const auto started = std::chrono::steady_clock::now();
  try {
    fetch_image_url("https://slow.example/i.png", options);
    ADD_FAILURE() << "fetched";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("took longer than the 200 ms allowed"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
  // What a lookup finds in time is vetted as before.
  options.timeout_ms = 5000;
  options.resolve = [](const char*, const char* service, const addrinfo* hints, addrinfo** found) {
    return ::getaddrinfo("127.0.0.1", service, hints, found);
  };
  try {
    fetch_image_url("https://public.example/i.png", options);
    ADD_FAILURE() << "fetched";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("resolves to 127.0.0.1"), std::string::npos) << e.what();
  }
}

TEST(Mp4Probe, ReadsSizeAndDurationOfARealFileAndRefusesBrokenOnes) {
  TempDir dir;
  Video video;
  video.width = 160;
  video.height = 90;
  video.rgb.assign(size_t(48) * video.frame_bytes(), 128);
  media::write_mp4(dir.str("clip.mp4"), video, Audio{});
  std::ifstream in(dir.str("clip.mp4"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Mp4Summary summary = probe_mp4(bytes);
  EXPECT_EQ(summary.width, 160);
  EXPECT_EQ(summary.height, 90);
  EXPECT_NEAR(summary.seconds, 2.0, 0.05);
  for (const std::string& broken : {std::string(), std::string("not an mp4 at all"), bytes.substr(0, 100), bytes.substr(0, bytes.size() / 2)}) {
    try {
      probe_mp4(broken);
      ADD_FAILURE() << "accepted " << broken.size() << " bytes";
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.field(), "video");
    }
  }
  // A box claiming more than the file holds, anywhere, is refused, not read past.
  std::string lying = bytes;
  const size_t moov = lying.find("moov");
  ASSERT_NE(moov, std::string::npos);
  lying[moov - 4] = char(0x7F);  // moov's size: about 2 GB
  EXPECT_THROW(probe_mp4(lying), InvalidArgument);
}

}  // namespace
}  // namespace opsis::server
