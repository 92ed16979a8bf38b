// The cameo registry: permissions for every level, state transitions, handles, bad input
// (refused with the field named, nothing half-written), and one ledger entry per consent event.
#include "cameo/registry.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace opsis::cameo {
namespace {

using nlohmann::json;

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : db(":memory:"), ledger(db), registry(db, ledger, [this] { return ++clock; }) {}

  Cameo active_cameo(const std::string& owner, const std::string& handle, Permission permission = Permission::only_me) {
    Cameo c = registry.create({owner, handle, "Display " + handle, CameoKind::person, permission, {}});
    return registry.activate(c.id, owner, {"blob_" + handle});
  }

  int64_t cameo_rows() {
    Statement s(db, "SELECT COUNT(*) FROM cameos");
    s.step();
    return s.integer(0);
  }

  std::vector<std::string> events_of(const std::string& cameo_id) {
    std::vector<std::string> out;
    for (const auto& e : ledger.entries(cameo_id)) out.push_back(json::parse(e.record)["event"]);
    return out;
  }

  std::string field_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const InvalidArgument& e) {
      return e.field();
    }
    return "(nothing thrown)";
  }

  int64_t clock = 1'700'000'000;
  Database db;
  ConsentLedger ledger;
  CameoRegistry registry;
};

TEST_F(RegistryTest, EnrollmentGoesFromPendingToActiveAndIsLogged) {
  Cameo c = registry.create({"alice", "@Alice.Cam", "Alice", CameoKind::person, Permission::only_me, {"no politics"}});
  EXPECT_EQ(c.handle, "alice.cam");
  EXPECT_EQ(c.state, CameoState::pending);
  EXPECT_EQ(c.id.rfind("cameo_", 0), 0u);
  EXPECT_EQ(c.id.size(), 30u);
  EXPECT_EQ(ledger.size(), 0u) << "nothing consented yet";
  EXPECT_FALSE(registry.may_use("alice", c).allowed);
  EXPECT_EQ(registry.may_use("alice", c).code, "cameo_not_active");

  c = registry.activate(c.id, "alice", {"blob_sha256_abc"});
  EXPECT_EQ(c.state, CameoState::active);
  EXPECT_TRUE(registry.may_use("alice", c).allowed);
  EXPECT_EQ(registry.get_by_handle("@ALICE.cam").id, c.id);
  ASSERT_EQ(events_of(c.id), std::vector<std::string>{"enrolled"});
  const json record = json::parse(ledger.entry(0).record);
  EXPECT_EQ(record["reference_media"], json::array({"blob_sha256_abc"}));
  EXPECT_EQ(record["owner"], "alice");
  EXPECT_FALSE(record.dump().find("no politics") != std::string::npos) << "the ledger commits to words, not publish them";

  EXPECT_EQ(field_of([&] { registry.activate(c.id, "alice", {"blob_2"}); }), "state");
  EXPECT_EQ(field_of([&] { registry.activate(registry.create({"alice", "second", "S", CameoKind::character, Permission::only_me, {}}).id, "alice", {}); }),
            "reference_media");
}

TEST_F(RegistryTest, FollowingAndFollowersLists) {
  registry.follow("bob", "alice");
  registry.follow("carol", "alice");
  registry.follow("alice", "bob");
  EXPECT_EQ(registry.followers("alice"), (std::vector<std::string>{"bob", "carol"}));
  EXPECT_EQ(registry.following("alice"), (std::vector<std::string>{"bob"}));
  registry.unfollow("carol", "alice");
  EXPECT_EQ(registry.followers("alice"), (std::vector<std::string>{"bob"}));
  EXPECT_TRUE(registry.following("dave").empty());
}

TEST_F(RegistryTest, EveryPermissionLevelDecidesForOwnerApprovedMutualFollowerAndStranger) {
  // bob follows alice and alice follows bob (mutuals); carol follows alice only; dave is a stranger.
  registry.follow("bob", "alice");
  registry.follow("alice", "bob");
  registry.follow("carol", "alice");
  Cameo c = active_cameo("alice", "alice");
  auto allowed = [&](const std::string& who) { return registry.may_use(who, registry.get(c.id)).allowed; };

  // only_me
  EXPECT_TRUE(allowed("alice"));
  EXPECT_FALSE(allowed("bob"));
  EXPECT_FALSE(allowed("carol"));
  EXPECT_FALSE(allowed("dave"));
  EXPECT_NE(registry.may_use("bob", registry.get(c.id)).reason.find("only the owner of @alice"), std::string::npos);

  // approved: only the list (and the owner)
  registry.set_permission(c.id, "alice", Permission::approved);
  registry.approve(c.id, "alice", "carol");
  EXPECT_TRUE(allowed("alice"));
  EXPECT_FALSE(allowed("bob"));
  EXPECT_TRUE(allowed("carol"));
  EXPECT_FALSE(allowed("dave"));
  registry.unapprove(c.id, "alice", "carol");
  EXPECT_FALSE(allowed("carol"));
  EXPECT_NE(registry.may_use("carol", registry.get(c.id)).reason.find("approve"), std::string::npos);

  // mutuals: both directions needed
  registry.set_permission(c.id, "alice", Permission::mutuals);
  EXPECT_TRUE(allowed("alice"));
  EXPECT_TRUE(allowed("bob"));
  EXPECT_FALSE(allowed("carol")) << "a one-way follower is not a mutual";
  EXPECT_FALSE(allowed("dave"));
  registry.follow("alice", "carol");
  EXPECT_TRUE(allowed("carol"));
  registry.unfollow("bob", "alice");
  EXPECT_FALSE(allowed("bob")) << "unfollowing ends mutual access at once";

  // everyone
  registry.set_permission(c.id, "alice", Permission::everyone);
  for (const char* who : {"alice", "bob", "carol", "dave"}) EXPECT_TRUE(allowed(who)) << who;

  // lowering the level takes effect at once
  registry.set_permission(c.id, "alice", Permission::only_me);
  EXPECT_FALSE(allowed("dave"));

  // revoked: nobody, the owner included
  registry.revoke(c.id, "alice");
  for (const char* who : {"alice", "bob", "carol", "dave"}) {
    const auto decision = registry.may_use(who, registry.get(c.id));
    EXPECT_FALSE(decision.allowed) << who;
    EXPECT_EQ(decision.code, "cameo_revoked");
  }
  EXPECT_EQ(events_of(c.id), (std::vector<std::string>{"enrolled", "permission_changed", "approval_granted",
                                                        "approval_removed", "permission_changed", "permission_changed",
                                                        "permission_changed", "revoked"}));
}

TEST_F(RegistryTest, OnlyTheOwnerChangesACameoAndRefusalsWriteNothing) {
  Cameo c = active_cameo("alice", "alice");
  const uint64_t before = ledger.size();
  auto forbidden = [&](const std::function<void()>& action) {
    try {
      action();
    } catch (const CameoForbidden& e) {
      EXPECT_EQ(e.code(), "cameo_not_owner");
      return true;
    }
    return false;
  };
  EXPECT_TRUE(forbidden([&] { registry.set_permission(c.id, "mallory", Permission::everyone); }));
  EXPECT_TRUE(forbidden([&] { registry.approve(c.id, "mallory", "mallory2"); }));
  EXPECT_TRUE(forbidden([&] { registry.set_restrictions(c.id, "mallory", {}); }));
  EXPECT_TRUE(forbidden([&] { registry.revoke(c.id, "mallory"); }));
  EXPECT_TRUE(forbidden([&] { registry.remove(c.id, "mallory"); }));
  EXPECT_EQ(ledger.size(), before);
  EXPECT_EQ(registry.get(c.id).permission, Permission::only_me);
  EXPECT_EQ(registry.get(c.id).state, CameoState::active);
  EXPECT_THROW(registry.get("cameo_000000000000000000000000"), CameoNotFound);
  EXPECT_THROW(registry.get_by_handle("@nobody"), CameoNotFound);
}

TEST_F(RegistryTest, RevokedIsFinalAndDeleteFreesTheHandle) {
  Cameo c = active_cameo("alice", "alice", Permission::everyone);
  registry.revoke(c.id, "alice");
  EXPECT_EQ(field_of([&] { registry.revoke(c.id, "alice"); }), "state");
  EXPECT_EQ(field_of([&] { registry.set_permission(c.id, "alice", Permission::everyone); }), "state");
  EXPECT_EQ(field_of([&] { registry.approve(c.id, "alice", "bob"); }), "state");
  EXPECT_EQ(field_of([&] { registry.set_restrictions(c.id, "alice", {"x"}); }), "state");
  EXPECT_FALSE(registry.handle_available("alice")) << "a revoked cameo keeps its handle";
  EXPECT_EQ(registry.owned_by("alice").size(), 1u);

  registry.remove(c.id, "alice");
  EXPECT_THROW(registry.get(c.id), CameoNotFound);
  EXPECT_TRUE(registry.handle_available("alice"));
  EXPECT_EQ(events_of(c.id), (std::vector<std::string>{"enrolled", "revoked", "deleted"}));
  // The history outlives the cameo and still verifies.
  EXPECT_TRUE(ledger.audit({}).ok());
}

TEST_F(RegistryTest, HandlesAreUniqueCaseInsensitiveAndChecked) {
  active_cameo("alice", "alice");
  EXPECT_EQ(field_of([&] { registry.create({"bob", "@ALICE", "Not Alice", CameoKind::person, Permission::only_me, {}}); }),
            "handle");
  for (const char* bad : {"", "@", "ab", "1abc", "_abc", "has space", "ünï", "abc.", "a..b", "way_too_long_handle_for_anyone_1",
                          "admin", "@Everyone", "ab;drop", "a\nb"})
    EXPECT_EQ(field_of([&] { registry.create({"bob", bad, "Bob", CameoKind::person, Permission::only_me, {}}); }), "handle")
        << bad;
  EXPECT_EQ(cameo_rows(), 1);
  EXPECT_EQ(normalize_handle("@Bob_the.Builder"), "bob_the.builder");
  EXPECT_EQ(registry.suggest_handle("Alice"), "alice_2");
  EXPECT_EQ(registry.suggest_handle("Rex the Dog!"), "rex_the_dog");
  EXPECT_EQ(registry.suggest_handle("42"), "cameo_42");
  EXPECT_EQ(registry.suggest_handle("Admin"), "admin_2");
}

TEST_F(RegistryTest, BadInputIsRefusedWithTheFieldNamedAndNothingWritten) {
  auto create = [&](NewCameo c) { return field_of([&] { registry.create(c); }); };
  EXPECT_EQ(create({"", "okay", "Name", CameoKind::person, Permission::only_me, {}}), "owner");
  EXPECT_EQ(create({std::string(129, 'u'), "okay", "Name", CameoKind::person, Permission::only_me, {}}), "owner");
  EXPECT_EQ(create({"bob", "okay", "", CameoKind::person, Permission::only_me, {}}), "name");
  EXPECT_EQ(create({"bob", "okay", "   ", CameoKind::person, Permission::only_me, {}}), "name");
  EXPECT_EQ(create({"bob", "okay", std::string(81, 'n'), CameoKind::person, Permission::only_me, {}}), "name");
  EXPECT_EQ(create({"bob", "okay", "bad\x01name", CameoKind::person, Permission::only_me, {}}), "name");
  EXPECT_EQ(create({"bob", "okay", "bad \xff utf8", CameoKind::person, Permission::only_me, {}}), "name");
  EXPECT_EQ(create({"bob", "okay", "cut \xc3", CameoKind::person, Permission::only_me, {}}), "name");
  EXPECT_EQ(create({"bob", "okay", "Name", CameoKind::person, Permission::only_me, {std::string(501, 'r')}}), "restrictions");
  EXPECT_EQ(create({"bob", "okay", "Name", CameoKind::person, Permission::only_me, std::vector<std::string>(21, "r")}),
            "restrictions");
  EXPECT_EQ(create({"bob", "okay", "Name", CameoKind::person, Permission::only_me, {"two\nlines"}}), "restrictions");
  EXPECT_EQ(cameo_rows(), 0);
  EXPECT_EQ(ledger.size(), 0u);
  // 80 characters of non-ASCII text is a fine name.
  std::string eighty;
  for (int i = 0; i < 80; ++i) eighty += "é";
  EXPECT_NO_THROW(registry.create({"bob", "okay", eighty, CameoKind::person, Permission::only_me, {}}));

  Cameo c = active_cameo("carol", "carol");
  EXPECT_EQ(field_of([&] { registry.activate(c.id, "carol", {"bad id with spaces"}); }), "reference_media");
  EXPECT_EQ(field_of([&] { registry.approve(c.id, "carol", "carol"); }), "user");
  EXPECT_EQ(field_of([&] { registry.approve(c.id, "carol", ""); }), "user");
  EXPECT_EQ(field_of([&] { registry.unapprove(c.id, "carol", "never_approved"); }), "user");
  EXPECT_EQ(field_of([&] { registry.follow("bob", "bob"); }), "followee");
  EXPECT_EQ(field_of([] { permission_from_name("friends"); }), "permission");
  EXPECT_EQ(field_of([] { cameo_kind_from_name("robot"); }), "kind");
  EXPECT_EQ(permission_from_name("mutuals"), Permission::mutuals);
}

TEST_F(RegistryTest, AChangeWhoseLedgerEntryFailsIsRolledBack) {
  Cameo c = active_cameo("alice", "alice");
  db.exec("DROP TABLE ledger_nodes");
  EXPECT_THROW(registry.set_permission(c.id, "alice", Permission::everyone), IoError);
  EXPECT_THROW(registry.approve(c.id, "alice", "bob"), IoError);
  EXPECT_EQ(registry.get(c.id).permission, Permission::only_me);
  EXPECT_TRUE(registry.get(c.id).approved.empty());
  EXPECT_EQ(ledger.size(), 1u);
}

TEST_F(RegistryTest, RestrictionsAreEditedAndLogged) {
  Cameo c = active_cameo("alice", "alice");
  c = registry.set_restrictions(c.id, "alice", {"no political videos", "never make me say a word I did not write"});
  EXPECT_EQ(registry.get(c.id).restrictions.size(), 2u);
  registry.set_restrictions(c.id, "alice", {"no political videos", "never make me say a word I did not write"});
  EXPECT_EQ(events_of(c.id), (std::vector<std::string>{"enrolled", "restrictions_edited"})) << "no change, no entry";
}

TEST_F(RegistryTest, AVideoUsesAtMostTwoAllowedCameosAllOrNothing) {
  Cameo a = active_cameo("alice", "alice", Permission::everyone);
  Cameo b = active_cameo("bob", "bob", Permission::only_me);
  Cameo c = active_cameo("carol", "carol", Permission::everyone);
  const uint64_t before = ledger.size();
  try {
    registry.record_video_use("video_1", "dave", {a.id, b.id});
    FAIL();
  } catch (const CameoForbidden& e) {
    EXPECT_EQ(e.code(), "cameo_permission_denied");
    EXPECT_NE(std::string(e.what()).find("@bob"), std::string::npos);
  }
  EXPECT_EQ(ledger.size(), before) << "a refused video records no use, not even the allowed cameo's";
  EXPECT_EQ(field_of([&] { registry.record_video_use("video_1", "dave", {a.id, c.id, b.id}); }), "characters");
  EXPECT_EQ(field_of([&] { registry.record_video_use("video_1", "dave", {a.id, a.id}); }), "characters");
  EXPECT_THROW(registry.record_video_use("video_1", "dave", {"cameo_missing"}), CameoNotFound);
  EXPECT_EQ(ledger.size(), before);

  const auto used = registry.record_video_use("video_1", "dave", {a.id, c.id});
  EXPECT_EQ(used.size(), 2u);
  EXPECT_EQ(events_of(a.id), (std::vector<std::string>{"enrolled", "used_in_video"}));
  EXPECT_EQ(json::parse(ledger.entries(c.id).back().record)["video_id"], "video_1");
  EXPECT_EQ(json::parse(ledger.entries(c.id).back().record)["actor"], "dave");
  EXPECT_NO_THROW(registry.record_video_use("video_2", "bob", {b.id}));

  // The owner sees every video that used the cameo, others' drafts included; nobody else does.
  registry.record_video_use("video_3", "erin", {a.id});
  registry.record_video_use("video_3", "erin", {a.id});  // a retried admission is one video
  EXPECT_EQ(registry.videos_using(a.id, "alice"), (std::vector<std::string>{"video_1", "video_3"}));
  EXPECT_THROW(registry.videos_using(a.id, "dave"), CameoForbidden);
  const json owner_view = to_json(registry.get(a.id), true), public_view = to_json(registry.get(a.id), false);
  EXPECT_EQ(owner_view["handle"], "@alice");
  EXPECT_TRUE(owner_view.contains("restrictions"));
  EXPECT_FALSE(public_view.contains("restrictions"));
  EXPECT_FALSE(public_view.contains("approved"));
}

TEST_F(RegistryTest, ALikenessIsKeptWithTheCameoAndShownToItsOwner) {
  Cameo c = registry.create({"alice", "maya", "Maya", CameoKind::person, Permission::everyone, {}});
  const json likeness = {{"skin", "dark"}, {"hair_color", "red"}, {"hair_style", "long"}, {"shirt", "green"}, {"accessory", "none"}};
  registry.activate(c.id, "alice", {"blob_recording", "blob_portrait"}, likeness);
  const Cameo kept = registry.get(c.id);
  EXPECT_EQ(kept.likeness, likeness);
  EXPECT_EQ(kept.reference_media, (std::vector<std::string>{"blob_recording", "blob_portrait"}));
  EXPECT_EQ(to_json(kept, true)["likeness"], likeness);
  EXPECT_FALSE(to_json(kept, false).contains("likeness")) << "only its owner sees it";
  // Later changes keep it.
  registry.set_permission(c.id, "alice", Permission::only_me);
  EXPECT_EQ(registry.get(c.id).likeness, likeness);
  EXPECT_EQ(json::parse(ledger.entries(c.id).front().record)["likeness"], likeness);
  // A cameo without one says null.
  EXPECT_TRUE(to_json(active_cameo("bob", "bob"), true)["likeness"].is_null());
  EXPECT_EQ(field_of([&] {
              Cameo d = registry.create({"carol", "carol", "Carol", CameoKind::person, Permission::only_me, {}});
              registry.activate(d.id, "carol", {"blob_c"}, json::array({"dark"}));
            }),
            "likeness");
}

TEST(RegistryMigration, ADatabaseFromBeforeLikenessesGainsTheColumn) {
  Database db(":memory:");
  // The cameos table as it was before likenesses, with one enrolled cameo.
  db.exec(R"SQL(
CREATE TABLE cameos (id TEXT PRIMARY KEY, owner TEXT NOT NULL, handle TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
  kind TEXT NOT NULL, permission TEXT NOT NULL, state TEXT NOT NULL, reference_media TEXT NOT NULL DEFAULT '[]',
  restrictions TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
INSERT INTO cameos VALUES ('cameo_000000000000000000000001', 'alice', 'old', 'Old', 'person', 'everyone', 'active',
  '["blob_old"]', '[]', 1, 1);
)SQL");
  ConsentLedger ledger(db);
  CameoRegistry registry(db, ledger);
  const Cameo old = registry.get_by_handle("old");
  EXPECT_TRUE(old.likeness.is_null());
  EXPECT_EQ(old.reference_media, std::vector<std::string>{"blob_old"});
  CameoRegistry again(db, ledger);  // a second connection's start finds the column there
  Cameo fresh = again.create({"alice", "new", "New", CameoKind::person, Permission::only_me, {}});
  fresh = again.activate(fresh.id, "alice", {"blob_new"}, json{{"skin", "pale"}});
  EXPECT_EQ(again.get(fresh.id).likeness["skin"], "pale");
}

TEST(Handles, MentionsInAPrompt) {
  EXPECT_EQ(mentioned_handles("@Alice and @bob_2 walk; @alice waves."), (std::vector<std::string>{"alice", "bob_2"}));
  EXPECT_EQ(mentioned_handles("mail me at someone@example.com"), std::vector<std::string>{});
  EXPECT_EQ(mentioned_handles("@rex. Then @ and @@x"), (std::vector<std::string>{"rex", "x"}));
  EXPECT_EQ(mentioned_handles("(@ann.lee)"), (std::vector<std::string>{"ann.lee"}));
}

}  // namespace
}  // namespace opsis::cameo
