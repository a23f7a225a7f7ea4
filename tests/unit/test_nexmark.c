/*
 * Unit tests for benchmarks/nexmark_gen.h, the Nexmark generator behind bench-nexmark: no broker,
 * only the pure generator. They check what the nexmark-* workloads rely on: the stream is a
 * function of the seed, the 1:3:46 mix, sequential ids from 1000, references only to people and
 * auctions already written, Beam's hot shares, the padded sizes, JSON with exactly the fields of
 * benchmarks/WORKLOADS.md in their order, and event times spaced by the rate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../benchmarks/nexmark_gen.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ELEMS(a) (sizeof(a) / sizeof *(a))

/* Generates event n of cfg and its value into buf; returns the value's length. */
static size_t gen(const nexmark_config_t *cfg, uint64_t n, nexmark_event_t *ev,
                  char buf[NEXMARK_JSON_MAX])
{
    nexmark_event(cfg, n, ev);
    size_t len = nexmark_json(ev, buf, NEXMARK_JSON_MAX);
    assert_int_equal(len, strlen(buf));
    return len;
}

/* The same seed gives the same values, generated in any order; another seed other values. */
static void test_determinism(void **state)
{
    enum { N = 5000 };
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    cfg.seed = 7;
    char *values = malloc((size_t)N * NEXMARK_JSON_MAX);
    assert_non_null(values);
    nexmark_event_t ev;
    for (uint64_t n = 0; n < N; n++)
        gen(&cfg, n, &ev, values + n * NEXMARK_JSON_MAX);

    nexmark_config_t again;
    nexmark_config_init(&again);
    again.seed = 7;
    char buf[NEXMARK_JSON_MAX];
    for (uint64_t n = N; n-- > 0;) {
        gen(&again, n, &ev, buf);
        assert_string_equal(buf, values + n * NEXMARK_JSON_MAX);
    }

    again.seed = 8;
    int same = 0;
    for (uint64_t n = 0; n < N; n++) {
        gen(&again, n, &ev, buf);
        same += strcmp(buf, values + n * NEXMARK_JSON_MAX) == 0;
    }
    assert_int_equal(same, 0);
    free(values);
}

/* Of every 50 events: offset 0 a person, 1-3 auctions, the rest bids; so exactly 100/300/4600
 * of the first 5000. */
static void test_proportions(void **state)
{
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    nexmark_event_t ev;
    int count[3] = {0};
    for (uint64_t n = 0; n < 5000; n++) {
        nexmark_event(&cfg, n, &ev);
        count[ev.kind]++;
        uint64_t offset = n % 50;
        assert_int_equal(ev.kind, offset == 0  ? NEXMARK_PERSON
                                  : offset < 4 ? NEXMARK_AUCTION
                                               : NEXMARK_BID);
    }
    assert_int_equal(count[NEXMARK_PERSON], 100);
    assert_int_equal(count[NEXMARK_AUCTION], 300);
    assert_int_equal(count[NEXMARK_BID], 4600);
}

/* Person and auction ids run 1000, 1001, ... in event order, each type on its own; the key is
 * the id (a bid's: its auction). */
static void test_ids_sequential(void **state)
{
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    nexmark_event_t ev;
    int64_t next_person = 1000, next_auction = 1000;
    for (uint64_t n = 0; n < 20000; n++) {
        nexmark_event(&cfg, n, &ev);
        if (ev.kind == NEXMARK_PERSON) {
            assert_int_equal(ev.person.id, next_person++);
            assert_int_equal(nexmark_key(&ev), ev.person.id);
        } else if (ev.kind == NEXMARK_AUCTION) {
            assert_int_equal(ev.auction.id, next_auction++);
            assert_int_equal(nexmark_key(&ev), ev.auction.id);
        } else {
            assert_int_equal(nexmark_key(&ev), ev.bid.auction);
        }
    }
    assert_int_equal(next_person, 1000 + 400);
    assert_int_equal(next_auction, 1000 + 1200);
}

/* Every bid names an auction and a bidder, every auction a seller, already written before it;
 * random picks stay within the in-flight auctions and the active people. */
static void test_references_exist(void **state)
{
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    nexmark_event_t ev;
    int64_t last_person = -1, last_auction = -1; /* ids written so far */
    for (uint64_t n = 0; n < 200000; n++) {
        nexmark_event(&cfg, n, &ev);
        switch (ev.kind) {
        case NEXMARK_PERSON:
            last_person = ev.person.id;
            break;
        case NEXMARK_AUCTION:
            assert_in_range(ev.auction.seller, 1000, last_person);
            assert_true(ev.auction.seller > last_person - cfg.num_active_people);
            last_auction = ev.auction.id;
            break;
        case NEXMARK_BID:
            assert_in_range(ev.bid.auction, 1000, last_auction);
            assert_true(ev.bid.auction >= last_auction - cfg.num_in_flight_auctions);
            assert_in_range(ev.bid.bidder, 1000, last_person);
            assert_true(ev.bid.bidder > last_person - cfg.num_active_people);
            break;
        }
    }
}

/* Shares of bids for the hot auction and by the hot bidder, and of auctions by the hot seller,
 * for hot ratio r: 1 - 1/r by choice, plus the random picks that land on it. */
static void hot_shares(int auction_ratio, int bidders_ratio, int sellers_ratio, double *auction,
                       double *bidder, double *seller)
{
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    cfg.hot_auction_ratio = auction_ratio;
    cfg.hot_bidders_ratio = bidders_ratio;
    cfg.hot_sellers_ratio = sellers_ratio;
    nexmark_event_t ev;
    long bids = 0, auctions = 0, hot_auction = 0, hot_bidder = 0, hot_seller = 0;
    for (uint64_t n = 0; n < 100000; n++) {
        nexmark_event(&cfg, n, &ev);
        if (ev.kind == NEXMARK_BID) {
            bids++;
            hot_auction += ev.bid.auction == nexmark_hot_auction(n) + 1000;
            hot_bidder += ev.bid.bidder == nexmark_hot_bidder(n) + 1000;
        } else if (ev.kind == NEXMARK_AUCTION) {
            auctions++;
            hot_seller += ev.auction.seller == nexmark_hot_seller(n) + 1000;
        }
    }
    *auction = (double)hot_auction / (double)bids;
    *bidder = (double)hot_bidder / (double)bids;
    *seller = (double)hot_seller / (double)auctions;
}

static void test_hot_shares(void **state)
{
    double auction, bidder, seller;
    hot_shares(2, 4, 4, &auction, &bidder, &seller); /* Beam's defaults */
    print_message("hot shares (2, 4, 4): auction %.4f bidder %.4f seller %.4f\n", auction, bidder,
                  seller);
    assert_true(auction > 0.49 && auction < 0.53);
    assert_true(bidder > 0.74 && bidder < 0.77);
    assert_true(seller > 0.73 && seller < 0.78);

    hot_shares(1, 1, 1, &auction, &bidder, &seller); /* nothing hot: only chance */
    assert_true(auction < 0.03 && bidder < 0.01 && seller < 0.01);

    hot_shares(10, 10, 10, &auction, &bidder, &seller);
    assert_true(auction > 0.89 && auction < 0.92);
    assert_true(bidder > 0.89 && bidder < 0.91);
    assert_true(seller > 0.88 && seller < 0.92);
}

/* Returns the "extra" string of a value (borrowed from buf, up to the closing quote). */
static const char *extra_of(const char *buf, size_t *len)
{
    const char *e = strstr(buf, "\"extra\":\"");
    assert_non_null(e);
    e += strlen("\"extra\":\"");
    *len = strlen(e) - 2; /* "} */
    return e;
}

/* Persons average 200 bytes and auctions 500, within 10%. A bid's fixed fields take more than
 * its 100 (about 170, channel and url included), so its extra stays empty; with a reachable
 * target the bids average that target too. */
static void test_sizes(void **state)
{
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    nexmark_event_t ev;
    char buf[NEXMARK_JSON_MAX];
    double total[3] = {0};
    long count[3] = {0};
    for (uint64_t n = 0; n < 100000; n++) {
        size_t len = gen(&cfg, n, &ev, buf);
        total[ev.kind] += (double)len;
        count[ev.kind]++;
        size_t elen;
        const char *extra = extra_of(buf, &elen);
        for (size_t i = 0; i < elen; i++)
            assert_true(extra[i] >= 'a' && extra[i] <= 'z');
        if (ev.kind == NEXMARK_BID) {
            assert_int_equal(elen, 0);
            assert_true(len >= 100);
        }
    }
    double person = total[NEXMARK_PERSON] / (double)count[NEXMARK_PERSON];
    double auction = total[NEXMARK_AUCTION] / (double)count[NEXMARK_AUCTION];
    double bid = total[NEXMARK_BID] / (double)count[NEXMARK_BID];
    print_message("average sizes: person %.1f auction %.1f bid %.1f\n", person, auction, bid);
    assert_true(person > 180 && person < 220);
    assert_true(auction > 450 && auction < 550);
    assert_true(bid > 150 && bid < 200);

    cfg.avg_bid_bytes = 300;
    total[NEXMARK_BID] = 0;
    for (uint64_t n = 0; n < 100000; n++) {
        size_t len = gen(&cfg, n, &ev, buf);
        if (ev.kind == NEXMARK_BID)
            total[NEXMARK_BID] += (double)len;
    }
    bid = total[NEXMARK_BID] / (double)count[NEXMARK_BID];
    assert_true(bid > 270 && bid < 330);
}

static const char *const person_fields[] = {"id",   "name",  "emailAddress", "creditCard",
                                            "city", "state", "dateTime",     "extra"};
static const char *const auction_fields[] = {"id",       "itemName", "description", "initialBid",
                                             "reserve",  "dateTime", "expires",     "seller",
                                             "category", "extra"};
static const char *const bid_fields[] = {"auction", "bidder",   "price", "channel",
                                         "url",     "dateTime", "extra"};

static int64_t int_field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    assert_true(json_is_integer(v));
    return (int64_t)json_integer_value(v);
}

static const char *str_field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* Every value is one JSON object with exactly the fields of WORKLOADS.md in their order, of the
 * right types and equal to the event's; it is compact: jansson writes it back byte for byte. */
static void test_json(void **state)
{
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    nexmark_event_t ev;
    char buf[NEXMARK_JSON_MAX];
    for (uint64_t n = 0; n < 20000; n++) {
        size_t len = gen(&cfg, n, &ev, buf);
        json_error_t err;
        json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
        if (!root)
            fail_msg("event %llu: %s: %s", (unsigned long long)n, err.text, buf);
        assert_true(json_is_object(root));

        const char *const *fields = ev.kind == NEXMARK_PERSON    ? person_fields
                                    : ev.kind == NEXMARK_AUCTION ? auction_fields
                                                                 : bid_fields;
        size_t nfields = ev.kind == NEXMARK_PERSON    ? N_ELEMS(person_fields)
                         : ev.kind == NEXMARK_AUCTION ? N_ELEMS(auction_fields)
                                                      : N_ELEMS(bid_fields);
        assert_int_equal(json_object_size(root), nfields);
        size_t i = 0;
        for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it), i++)
            assert_string_equal(json_object_iter_key(it), fields[i]);
        assert_int_equal(i, nfields);

        assert_int_equal(int_field(root, "dateTime"), ev.date_time);
        str_field(root, "extra");
        switch (ev.kind) {
        case NEXMARK_PERSON:
            assert_int_equal(int_field(root, "id"), ev.person.id);
            assert_string_equal(str_field(root, "name"), ev.person.name);
            assert_string_equal(str_field(root, "emailAddress"), ev.person.email);
            assert_string_equal(str_field(root, "creditCard"), ev.person.credit_card);
            assert_string_equal(str_field(root, "city"), ev.person.city);
            assert_int_equal(strlen(str_field(root, "state")), 2);
            break;
        case NEXMARK_AUCTION:
            assert_int_equal(int_field(root, "id"), ev.auction.id);
            assert_string_equal(str_field(root, "itemName"), ev.auction.item_name);
            assert_string_equal(str_field(root, "description"), ev.auction.description);
            assert_int_equal(int_field(root, "initialBid"), ev.auction.initial_bid);
            assert_true(int_field(root, "reserve") > ev.auction.initial_bid);
            assert_true(int_field(root, "expires") > ev.date_time);
            assert_int_equal(int_field(root, "seller"), ev.auction.seller);
            assert_in_range(int_field(root, "category"), 10, 14);
            break;
        case NEXMARK_BID:
            assert_int_equal(int_field(root, "auction"), ev.bid.auction);
            assert_int_equal(int_field(root, "bidder"), ev.bid.bidder);
            assert_in_range(int_field(root, "price"), 100, 100000000);
            assert_string_equal(str_field(root, "channel"), ev.bid.channel);
            assert_string_equal(str_field(root, "url"), ev.bid.url);
            assert_memory_equal(ev.bid.url, "https://www.nexmark.com/", 24);
            break;
        }

        char *again = json_dumps(root, JSON_COMPACT);
        assert_non_null(again);
        assert_string_equal(again, buf);
        free(again);
        json_decref(root);
    }
}

/* A channel always has the same url; the hot channels carry half of the bids. */
static void test_channels(void **state)
{
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    nexmark_event_t ev;
    static char urls[NEXMARK_CHANNELS + 4][96];
    memset(urls, 0, sizeof urls);
    long bids = 0, hot = 0;
    for (uint64_t n = 0; n < 100000; n++) {
        nexmark_event(&cfg, n, &ev);
        if (ev.kind != NEXMARK_BID)
            continue;
        bids++;
        size_t slot = NEXMARK_CHANNELS;
        if (strncmp(ev.bid.channel, "channel-", 8) == 0) {
            slot = (size_t)atol(ev.bid.channel + 8);
            assert_true(slot < NEXMARK_CHANNELS);
        } else {
            hot++;
            while (strcmp(nexmark_hot_channels[slot - NEXMARK_CHANNELS], ev.bid.channel) != 0)
                slot++;
        }
        if (urls[slot][0])
            assert_string_equal(urls[slot], ev.bid.url);
        else
            snprintf(urls[slot], sizeof urls[slot], "%s", ev.bid.url);
    }
    double share = (double)hot / (double)bids;
    assert_true(share > 0.48 && share < 0.52);
}

/* dateTime(n) = base + floor(n * 1000 / rate): never decreasing, and one second of event time
 * holds exactly `rate` events. */
static void test_times(void **state)
{
    static const int64_t rates[] = {10000, 3, 1000, 7777, 1000000};
    for (size_t r = 0; r < N_ELEMS(rates); r++) {
        nexmark_config_t cfg;
        nexmark_config_init(&cfg);
        cfg.rate = rates[r];
        nexmark_event_t ev;
        int64_t prev = INT64_MIN;
        long in_first_second = 0;
        for (uint64_t n = 0; n < 20000; n++) {
            nexmark_event(&cfg, n, &ev);
            assert_int_equal(ev.date_time,
                             1700000000000LL + (int64_t)(n * 1000 / (uint64_t)rates[r]));
            assert_true(ev.date_time >= prev);
            prev = ev.date_time;
            in_first_second += ev.date_time < 1700000000000LL + 1000;
        }
        assert_int_equal(in_first_second, rates[r] < 20000 ? rates[r] : 20000);
    }
    nexmark_config_t cfg;
    nexmark_config_init(&cfg);
    nexmark_event_t ev;
    nexmark_event(&cfg, 0, &ev);
    assert_int_equal(ev.kind, NEXMARK_PERSON);
    assert_int_equal(ev.date_time, 1700000000000LL);
    nexmark_event(&cfg, 9999, &ev);
    assert_int_equal(ev.date_time, 1700000000999LL); /* 10,000 events per second by default */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),    cmocka_unit_test(test_proportions),
        cmocka_unit_test(test_ids_sequential), cmocka_unit_test(test_references_exist),
        cmocka_unit_test(test_hot_shares),     cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_json),           cmocka_unit_test(test_channels),
        cmocka_unit_test(test_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
