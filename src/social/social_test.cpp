#include "social/social.hpp"

#include <gtest/gtest.h>

#include "core/error.hpp"

namespace opsis::social {
namespace {

struct SocialTest : ::testing::Test {
  int64_t clock = 1'000'000;
  SocialStore store{":memory:", [this] { return clock; }};
};

TEST(Passwords, Argon2idRoundTripAndSalted) {
  const std::string a = hash_password("correct horse");
  const std::string b = hash_password("correct horse");
  EXPECT_EQ(a.rfind("$argon2id$", 0), 0u);
  EXPECT_NE(a, b);  // a fresh salt each time
  EXPECT_TRUE(verify_password(a, "correct horse"));
  EXPECT_FALSE(verify_password(a, "correct horsf"));
  EXPECT_FALSE(verify_password("plain", "plain"));
  EXPECT_EQ(a.find("correct"), std::string::npos);
  EXPECT_THROW(hash_password("short"), InvalidArgument);
}

TEST(Handles, Normalised) {
  EXPECT_EQ(normalize_account_handle("@Ada_1"), "ada_1");
  EXPECT_THROW(normalize_account_handle("ab"), InvalidArgument);
  EXPECT_THROW(normalize_account_handle("<script>"), InvalidArgument);
  EXPECT_THROW(normalize_account_handle("a b c"), InvalidArgument);
}

TEST_F(SocialTest, SignupLoginAndSessions) {
  const User u = store.create_user("@Ada", "password1", "Ada L");
  EXPECT_EQ(u.handle, "ada");
  EXPECT_THROW(store.create_user("ada", "password2", ""), InvalidArgument);  // taken
  EXPECT_THROW(store.create_user("local", "password2", ""), InvalidArgument);  // the keyless API's user
  EXPECT_TRUE(store.check_login("ADA", "password1"));
  EXPECT_FALSE(store.check_login("ada", "password2"));
  EXPECT_FALSE(store.check_login("nobody", "password1"));

  const NewSession s = store.create_session("ada", 100);
  EXPECT_EQ(s.token.size(), 64u);
  ASSERT_TRUE(store.session(s.token));
  EXPECT_EQ(store.session(s.token)->user, "ada");
  EXPECT_EQ(store.session(s.token)->csrf, s.session.csrf);
  EXPECT_FALSE(store.session(std::string(64, '0')));
  clock += 101;
  EXPECT_FALSE(store.session(s.token));  // expired
  const NewSession t = store.create_session("ada");
  store.end_session(t.token);
  EXPECT_FALSE(store.session(t.token));

  const NewSession v = store.create_session("ada");
  store.set_banned("ada", true);
  EXPECT_FALSE(store.session(v.token));
  EXPECT_FALSE(store.check_login("ada", "password1"));
}

TEST_F(SocialTest, ProfileChecksText) {
  store.create_user("bob", "password1", "");
  EXPECT_EQ(store.user("bob")->display_name, "bob");
  EXPECT_EQ(store.update_profile("bob", "Bob <b>", "hi\nthere").bio, "hi\nthere");
  EXPECT_THROW(store.update_profile("bob", "", ""), InvalidArgument);
  EXPECT_THROW(store.update_profile("bob", "x", std::string("\xff\xfe")), InvalidArgument);
  EXPECT_THROW(store.update_profile("bob", "x", std::string(501, 'a')), InvalidArgument);
}

TEST_F(SocialTest, PostsLikesCommentsAndChains) {
  store.create_user("ada", "password1", "");
  store.create_user("bob", "password1", "");
  store.publish("video_a", "ada", "<img src=x onerror=alert(1)>", "", {});
  EXPECT_EQ(store.post("video_a")->caption, "<img src=x onerror=alert(1)>");  // stored as text; rendered inert
  EXPECT_TRUE(store.is_public("video_a"));
  EXPECT_FALSE(store.is_public("video_b"));
  EXPECT_EQ(store.set_like("video_a", "bob", true).second, 1);
  EXPECT_EQ(store.set_like("video_a", "bob", true).second, 1);  // idempotent
  EXPECT_TRUE(store.liked("video_a", "bob"));
  EXPECT_EQ(store.set_like("video_a", "bob", false).second, 0);
  store.add_comment("video_a", "bob", "nice");
  EXPECT_THROW(store.add_comment("video_a", "bob", ""), InvalidArgument);
  EXPECT_EQ(store.post("video_a")->comments, 1);
  store.publish("video_b", "bob", "remix", "video_a", {"ada"});
  ASSERT_EQ(store.remixes_of("video_a").size(), 1u);
  EXPECT_EQ(store.post("video_a")->remixes, 1);
  EXPECT_THROW(store.publish("video_b", "ada", "mine now", "", {}), InvalidArgument);  // not the owner's
}

TEST_F(SocialTest, FeedRankingFollowsAndHiding) {
  store.create_user("ada", "password1", "");
  store.create_user("bob", "password1", "");
  store.create_user("cyd", "password1", "");
  store.publish("video_old", "ada", "", "", {});
  clock += 3600 * 10;
  store.publish("video_new", "cyd", "", "", {});
  Viewer anon;
  auto feed = store.ranked_feed(anon, FeedTab::for_you, 0, 10);
  ASSERT_EQ(feed.size(), 2u);
  EXPECT_EQ(feed[0].video_id, "video_new");  // recency
  // Likes with decay: enough likes lift the older clip.
  for (int i = 0; i < 30; ++i) store.set_like("video_old", "u" + std::to_string(i), true);
  EXPECT_EQ(store.ranked_feed(anon, FeedTab::for_you, 0, 10)[0].video_id, "video_old");
  // Following: bob follows cyd, so cyd first (x4) even against the likes? 31/12^1.5 vs 4*1/2^1.5
  Viewer bob{"bob", {"cyd"}, {}};
  EXPECT_EQ(store.ranked_feed(bob, FeedTab::for_you, 0, 10)[0].video_id, "video_new");
  auto following = store.ranked_feed(bob, FeedTab::following, 0, 10);
  ASSERT_EQ(following.size(), 1u);
  EXPECT_EQ(following[0].video_id, "video_new");
  // Pages
  EXPECT_EQ(store.ranked_feed(anon, FeedTab::for_you, 1, 10).size(), 1u);
  // Hidden and banned never show.
  store.report("bob", "video", "video_old", "spam");
  EXPECT_EQ(store.open_reports().size(), 1u);
  store.moderate("mod", "hide", "video", "video_old", "");
  EXPECT_TRUE(store.open_reports().empty());
  EXPECT_FALSE(store.is_public("video_old"));
  store.moderate("mod", "ban", "user", "cyd", "spam");
  EXPECT_TRUE(store.ranked_feed(anon, FeedTab::for_you, 0, 10).empty());
  EXPECT_EQ(store.mod_actions().size(), 2u);
  EXPECT_THROW(store.moderate("mod", "explode", "user", "cyd", ""), InvalidArgument);
}

TEST_F(SocialTest, BlockedUsersNeverShow) {
  store.create_user("ada", "password1", "");
  store.create_user("bob", "password1", "");
  store.publish("video_a", "ada", "", "", {});
  store.add_comment("video_a", "bob", "hi");
  store.set_block("ada", "bob", true);
  EXPECT_TRUE(store.blocks("ada", "bob"));
  EXPECT_EQ(store.block_set("bob"), (std::set<std::string>{"ada"}));  // both ways
  Viewer bob{"bob", {}, store.block_set("bob")};
  EXPECT_TRUE(store.ranked_feed(bob, FeedTab::for_you, 0, 10).empty());
  EXPECT_TRUE(store.comments("video_a", 10, store.block_set("ada")).empty());
  EXPECT_EQ(store.comments("video_a").size(), 1u);
  EXPECT_THROW(store.set_block("ada", "ada", true), InvalidArgument);
  store.set_block("ada", "bob", false);
  EXPECT_EQ(store.ranked_feed(Viewer{"bob", {}, store.block_set("bob")}, FeedTab::for_you, 0, 10).size(), 1u);
}

TEST(Ranking, CameoOfFollowedDoubles) {
  Post p;
  p.user = "x";
  p.published_at = 0;
  p.cameo_owners = {"y"};
  Viewer v{"v", {"y"}, {}};
  Viewer w{"w", {}, {}};
  EXPECT_DOUBLE_EQ(feed_score(p, v, 0), 2 * feed_score(p, w, 0));
}

TEST(LoginLimit, FiveFailuresThenWait) {
  LoginLimiter limiter(5, std::chrono::seconds(300));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(limiter.retry_after("ada", "1.2.3.4"), 0);
    limiter.failed("ada", "1.2.3.4");
  }
  EXPECT_GT(limiter.retry_after("ada", "1.2.3.4"), 0);
  EXPECT_GT(limiter.retry_after("ada", "5.6.7.8"), 0);  // per handle, whatever the address
  EXPECT_EQ(limiter.retry_after("bob", "5.6.7.8"), 0);
}

}  // namespace
}  // namespace opsis::social
