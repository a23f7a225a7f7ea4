/*
 * nexmark_gen.h: the Nexmark event generator behind bench-nexmark, kept free of Kafka so that
 * tests/unit/test_nexmark.c can check it without a broker. Everything is static inline; the
 * caller owns every struct and buffer, nothing allocates, and it may run on any thread (all
 * state lives in the caller's structs).
 *
 * The model is Apache Beam's Nexmark generator (sdks/java/testing/nexmark, sources/generator),
 * with the bid's channel and url taken from the Flink variant (github.com/nexmark/nexmark),
 * re-implemented from its rules, not translated:
 *
 * - Event number n (from 0) alone determines the event: a private random stream is seeded from
 *   (seed, n), so any event can be generated on its own, in any order, and twice the same.
 *   The streams are splitmix64, not java.util.Random, so the values differ from Beam's; the
 *   distributions are Beam's.
 * - Of every 50 events (an "epoch"), offset 0 is a person, 1-3 are auctions, 4-49 are bids.
 *   Person and auction ids are sequential from 1000 in event order.
 * - A bid goes to the hot auction with probability 1 - 1/hot_auction_ratio (Beam's default 2:
 *   one half), the hot auction being the first of the newest batch of 100 auctions; otherwise to
 *   a random one of the newest num_in_flight_auctions + 1 (100 + 1). Its bidder is the hot bidder
 *   with probability 1 - 1/hot_bidders_ratio (4: three quarters), the second person of the
 *   newest batch of 100 people; otherwise a random one of the newest num_active_people (1000).
 *   An auction's seller is the hot seller (first person of the newest batch of 100) with
 *   probability 1 - 1/hot_sellers_ratio (4), otherwise a random active person.
 * - Deviation from Beam, on purpose: every reference points to a person or auction whose event
 *   comes earlier in the stream (or is the auction's own epoch's person). Beam lets random picks
 *   run up to 10 ids ahead (PERSON_ID_LEAD, AUCTION_ID_LEAD) and its hot bidder is a person not
 *   yet created in the first epoch of every batch of 100; here the leads are 0 and such a hot
 *   bidder falls back to the previous batch's (person 1000 in the very first epoch).
 * - Prices are 10^(6u) * 100 rounded, u uniform in [0, 1): 100 to 10^8 (cents), log-uniform.
 *   An auction's reserve is its initial bid plus another such price; its category is 10-14; it
 *   expires after 1 + a uniform time below twice the event time that num_in_flight_auctions more
 *   auctions take to arrive (so about that many are open at once).
 * - Half the bids come through one of 4 hot channels (Google, Facebook, Baidu, Apple), the other
 *   half through "channel-K", K uniform below 10000. Each channel has a fixed url
 *   "https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1", 9 in 10 of the plain channels with
 *   "&channel_id=<K bit-reversed>" appended; the url is a function of (seed, channel) (Flink
 *   draws its urls from an unseeded Random once per process).
 * - Event time: dateTime(n) = base_time_ms + floor(n * 1000 / rate), rate in events per second
 *   of event time (default 10,000, so 10 events per millisecond; base 1700000000000). It only
 *   spaces the timestamps: bench-nexmark writes as fast as it can.
 * - Values are compact JSON with the fields in the order of benchmarks/WORKLOADS.md. The last
 *   field, "extra", is lowercase letters whose length Beam's way (uniform within +-20% of the
 *   gap) brings the value to avg_*_bytes on average, measured on the JSON bytes themselves:
 *   person 200, auction 500. A bid's fixed fields alone (channel and url included) take about
 *   170 bytes, more than its target of 100, so a bid's extra is empty: the padding never cuts.
 *   Every string is plain printable ASCII without '"' or '\', so it is written without escaping.
 */
#ifndef RILL_BENCH_NEXMARK_GEN_H
#define RILL_BENCH_NEXMARK_GEN_H

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NEXMARK_FIRST_PERSON_ID      1000
#define NEXMARK_FIRST_AUCTION_ID     1000
#define NEXMARK_FIRST_CATEGORY_ID    10
#define NEXMARK_PERSON_PROPORTION    1
#define NEXMARK_AUCTION_PROPORTION   3
#define NEXMARK_BID_PROPORTION       46
#define NEXMARK_PROPORTION_DENOM     50  /* one epoch: person, auctions, bids */
#define NEXMARK_HOT_BATCH            100 /* Beam's HOT_{AUCTION,BIDDER,SELLER}_RATIO */
#define NEXMARK_NUM_CATEGORIES       5
#define NEXMARK_CHANNELS             10000
#define NEXMARK_HOT_CHANNELS_RATIO   2
#define NEXMARK_DEFAULT_BASE_TIME_MS 1700000000000LL
#define NEXMARK_DEFAULT_RATE         10000
#define NEXMARK_JSON_MAX             1024 /* room for the largest value any config makes */

/* Generator parameters; nexmark_config_init() sets Beam's defaults. */
typedef struct {
    uint64_t seed;
    int64_t base_time_ms; /* dateTime of event 0 */
    int64_t rate;         /* events per second of event time, >= 1 */
    int hot_auction_ratio, hot_sellers_ratio, hot_bidders_ratio; /* >= 1; 1 means none hot */
    int num_in_flight_auctions;                                  /* >= 0 */
    int num_active_people;                                       /* >= 1 */
    int avg_person_bytes, avg_auction_bytes, avg_bid_bytes;      /* JSON value size targets */
} nexmark_config_t;

typedef enum { NEXMARK_PERSON, NEXMARK_AUCTION, NEXMARK_BID } nexmark_kind_t;

typedef struct {
    int64_t id;
    char name[32];
    char email[32];
    char credit_card[20];
    const char *city, *state; /* static strings */
} nexmark_person_t;

typedef struct {
    int64_t id;
    char item_name[24];
    char description[104];
    int64_t initial_bid, reserve, expires, seller, category;
} nexmark_auction_t;

typedef struct {
    int64_t auction, bidder, price;
    char channel[16];
    char url[96];
} nexmark_bid_t;

/* One event. The padding is not stored: nexmark_json() draws it, from pad_rng, because its
 * length depends on the size of the JSON written before it. */
typedef struct {
    nexmark_kind_t kind;
    uint64_t number;   /* n */
    int64_t date_time; /* ms since the epoch; the record's timestamp */
    int pad_target;    /* the avg_*_bytes of the kind */
    uint64_t pad_rng;  /* the event's random stream where the fields left it */
    union {
        nexmark_person_t person;
        nexmark_auction_t auction;
        nexmark_bid_t bid;
    };
} nexmark_event_t;

static inline void nexmark_config_init(nexmark_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 0;
    cfg->base_time_ms = NEXMARK_DEFAULT_BASE_TIME_MS;
    cfg->rate = NEXMARK_DEFAULT_RATE;
    cfg->hot_auction_ratio = 2;
    cfg->hot_sellers_ratio = 4;
    cfg->hot_bidders_ratio = 4;
    cfg->num_in_flight_auctions = 100;
    cfg->num_active_people = 1000;
    cfg->avg_person_bytes = 200;
    cfg->avg_auction_bytes = 500;
    cfg->avg_bid_bytes = 100;
}

/* ---- Random streams (splitmix64) ---- */

#define NEXMARK_GOLDEN       0x9e3779b97f4a7c15ULL
#define NEXMARK_STREAM_EVENT 1
#define NEXMARK_STREAM_URL   2
#define NEXMARK_STREAM_HOT   3

static inline uint64_t nexmark_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The start of stream `index` of kind `stream` under seed: independent for any two triples. */
static inline uint64_t nexmark_stream(uint64_t seed, uint64_t stream, uint64_t index)
{
    return nexmark_mix(nexmark_mix(seed ^ (stream * NEXMARK_GOLDEN)) + index);
}

static inline uint64_t nexmark_next(uint64_t *s)
{
    *s += NEXMARK_GOLDEN;
    return nexmark_mix(*s);
}

/* Uniform in [0, k), k >= 1. The modulo bias is below k / 2^64: nothing at these sizes. */
static inline uint64_t nexmark_below(uint64_t *s, uint64_t k)
{
    assert(k >= 1);
    return nexmark_next(s) % k;
}

/* Uniform in [0, 1). */
static inline double nexmark_unit(uint64_t *s)
{
    return (double)(nexmark_next(s) >> 11) * 0x1.0p-53;
}

/* ---- Field generators ---- */

/* A random string of 3 to max - 1 characters into out (max + 1 bytes): lowercase letters with
 * one in 13 a `space`; a ' ' is trimmed at both ends (which may leave it empty). Returns its
 * length. */
static inline size_t nexmark_string(uint64_t *s, int max, char space, char *out)
{
    size_t len = 3 + (size_t)nexmark_below(s, (uint64_t)(max - 3));
    for (size_t i = 0; i < len; i++)
        out[i] = nexmark_below(s, 13) == 0 ? space : (char)('a' + nexmark_below(s, 26));
    size_t b = 0, e = len;
    if (space == ' ') {
        while (b < e && out[b] == ' ')
            b++;
        while (e > b && out[e - 1] == ' ')
            e--;
    }
    memmove(out, out + b, e - b);
    out[e - b] = 0;
    return e - b;
}

static inline int64_t nexmark_price(uint64_t *s)
{
    return (int64_t)llround(pow(10.0, nexmark_unit(s) * 6.0) * 100.0);
}

/* dateTime of event n. */
static inline int64_t nexmark_time(const nexmark_config_t *cfg, uint64_t n)
{
    return cfg->base_time_ms + (int64_t)(n * 1000 / (uint64_t)cfg->rate);
}

/* Base-0 id of the newest person whose event is at or before n (n's own, if n is a person). */
static inline int64_t nexmark_last_person(uint64_t n)
{
    int64_t epoch = (int64_t)(n / NEXMARK_PROPORTION_DENOM);
    int64_t offset = (int64_t)(n % NEXMARK_PROPORTION_DENOM);
    if (offset >= NEXMARK_PERSON_PROPORTION)
        offset = NEXMARK_PERSON_PROPORTION - 1;
    return epoch * NEXMARK_PERSON_PROPORTION + offset;
}

/* Base-0 id of the newest auction whose event is at or before n (n's own, if n is an auction);
 * -1 before the first auction. */
static inline int64_t nexmark_last_auction(uint64_t n)
{
    int64_t epoch = (int64_t)(n / NEXMARK_PROPORTION_DENOM);
    int64_t offset = (int64_t)(n % NEXMARK_PROPORTION_DENOM);
    if (offset < NEXMARK_PERSON_PROPORTION) {
        epoch--; /* a person: the last auction of the previous epoch */
        offset = NEXMARK_AUCTION_PROPORTION - 1;
    } else if (offset >= NEXMARK_PERSON_PROPORTION + NEXMARK_AUCTION_PROPORTION) {
        offset = NEXMARK_AUCTION_PROPORTION - 1; /* a bid: this epoch's last auction */
    } else {
        offset -= NEXMARK_PERSON_PROPORTION;
    }
    return epoch * NEXMARK_AUCTION_PROPORTION + offset;
}

/* A random active person (base 0): one of the newest num_active_people existing at n. */
static inline int64_t nexmark_random_person(const nexmark_config_t *cfg, uint64_t n, uint64_t *s)
{
    int64_t people = nexmark_last_person(n) + 1;
    int64_t active = people < cfg->num_active_people ? people : cfg->num_active_people;
    return people - active + (int64_t)nexmark_below(s, (uint64_t)active);
}

/* A random auction likely still open at bid n (base 0): one of the newest
 * num_in_flight_auctions + 1. */
static inline int64_t nexmark_random_auction(const nexmark_config_t *cfg, uint64_t n, uint64_t *s)
{
    int64_t last = nexmark_last_auction(n);
    int64_t min = last - cfg->num_in_flight_auctions > 0 ? last - cfg->num_in_flight_auctions : 0;
    return min + (int64_t)nexmark_below(s, (uint64_t)(last - min + 1));
}

/* The hot bidder at n (base 0): the second person of the newest batch of NEXMARK_HOT_BATCH that
 * has one; so hot bidders and hot sellers (the first) never coincide, except person 0 before
 * person 1 exists. */
static inline int64_t nexmark_hot_bidder(uint64_t n)
{
    int64_t last = nexmark_last_person(n);
    int64_t hot = last / NEXMARK_HOT_BATCH * NEXMARK_HOT_BATCH + 1;
    if (hot > last)
        hot = last >= NEXMARK_HOT_BATCH ? hot - NEXMARK_HOT_BATCH : last;
    return hot;
}

static inline int64_t nexmark_hot_seller(uint64_t n)
{
    return nexmark_last_person(n) / NEXMARK_HOT_BATCH * NEXMARK_HOT_BATCH;
}

static inline int64_t nexmark_hot_auction(uint64_t n)
{
    return nexmark_last_auction(n) / NEXMARK_HOT_BATCH * NEXMARK_HOT_BATCH;
}

static const char *const nexmark_states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const nexmark_cities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                             "Portland", "Bend",        "Redmond",       "Seattle",
                                             "Kent",     "Cheyenne"};
static const char *const nexmark_first_names[] = {
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"};
static const char *const nexmark_last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                                 "Walton", "Smith",  "Jones",   "Noris"};
static const char *const nexmark_hot_channels[] = {"Google", "Facebook", "Baidu", "Apple"};

#define NEXMARK_PICK(s, table) (table)[nexmark_below((s), sizeof(table) / sizeof *(table))]

/* The url of a channel, a function of (seed, channel): `stream` and `index` name the channel
 * (a hot one, or channel-K). */
static inline void nexmark_channel_url(uint64_t seed, uint64_t stream, uint64_t index,
                                       bool may_have_id, char out[96])
{
    uint64_t s = nexmark_stream(seed, stream, index);
    char seg[3][8];
    for (int i = 0; i < 3; i++)
        nexmark_string(&s, 5, '_', seg[i]);
    int len = snprintf(out, 96, "https://www.nexmark.com/%s/%s/%s/item.htm?query=1", seg[0], seg[1],
                       seg[2]);
    if (may_have_id && nexmark_below(&s, 10) > 0) {
        /* Java's abs(Integer.reverse(K)), without its overflow at K = 1 */
        uint32_t k = (uint32_t)index, rev = 0;
        for (int b = 0; b < 32; b++, k >>= 1)
            rev = (rev << 1) | (k & 1);
        int64_t id = (int32_t)rev;
        snprintf(out + len, (size_t)(96 - len), "&channel_id=%" PRId64, id < 0 ? -id : id);
    }
}

static inline void nexmark_person(uint64_t n, uint64_t *s, nexmark_person_t *p)
{
    char user[8], domain[8];
    p->id = nexmark_last_person(n) + NEXMARK_FIRST_PERSON_ID;
    snprintf(p->name, sizeof p->name, "%s %s", NEXMARK_PICK(s, nexmark_first_names),
             NEXMARK_PICK(s, nexmark_last_names));
    nexmark_string(s, 7, ' ', user);
    nexmark_string(s, 5, ' ', domain);
    snprintf(p->email, sizeof p->email, "%s@%s.com", user, domain);
    int d[4];
    for (int i = 0; i < 4; i++)
        d[i] = (int)nexmark_below(s, 10000);
    snprintf(p->credit_card, sizeof p->credit_card, "%04d %04d %04d %04d", d[0], d[1], d[2], d[3]);
    p->city = NEXMARK_PICK(s, nexmark_cities);
    p->state = NEXMARK_PICK(s, nexmark_states);
}

static inline void nexmark_auction(const nexmark_config_t *cfg, uint64_t n, int64_t date_time,
                                   uint64_t *s, nexmark_auction_t *a)
{
    a->id = nexmark_last_auction(n) + NEXMARK_FIRST_AUCTION_ID;
    int64_t seller = (int64_t)nexmark_below(s, (uint64_t)cfg->hot_sellers_ratio) > 0
                         ? nexmark_hot_seller(n)
                         : nexmark_random_person(cfg, n, s);
    a->seller = seller + NEXMARK_FIRST_PERSON_ID;
    a->category = NEXMARK_FIRST_CATEGORY_ID + (int64_t)nexmark_below(s, NEXMARK_NUM_CATEGORIES);
    a->initial_bid = nexmark_price(s);
    /* When will the auction num_in_flight_auctions later arrive? The length averages that. */
    uint64_t ahead = (uint64_t)cfg->num_in_flight_auctions * NEXMARK_PROPORTION_DENOM /
                     NEXMARK_AUCTION_PROPORTION;
    int64_t horizon = nexmark_time(cfg, n + ahead) - date_time;
    a->expires =
        date_time + 1 + (int64_t)nexmark_below(s, (uint64_t)(horizon * 2 > 1 ? horizon * 2 : 1));
    nexmark_string(s, 20, ' ', a->item_name);
    nexmark_string(s, 100, ' ', a->description);
    a->reserve = a->initial_bid + nexmark_price(s);
}

static inline void nexmark_bid(const nexmark_config_t *cfg, uint64_t n, uint64_t *s,
                               nexmark_bid_t *b)
{
    int64_t auction = nexmark_below(s, (uint64_t)cfg->hot_auction_ratio) > 0
                          ? nexmark_hot_auction(n)
                          : nexmark_random_auction(cfg, n, s);
    b->auction = auction + NEXMARK_FIRST_AUCTION_ID;
    int64_t bidder = nexmark_below(s, (uint64_t)cfg->hot_bidders_ratio) > 0
                         ? nexmark_hot_bidder(n)
                         : nexmark_random_person(cfg, n, s);
    b->bidder = bidder + NEXMARK_FIRST_PERSON_ID;
    b->price = nexmark_price(s);
    if (nexmark_below(s, NEXMARK_HOT_CHANNELS_RATIO) > 0) {
        uint64_t i = nexmark_below(s, 4);
        snprintf(b->channel, sizeof b->channel, "%s", nexmark_hot_channels[i]);
        nexmark_channel_url(cfg->seed, NEXMARK_STREAM_HOT, i, false, b->url);
    } else {
        uint64_t k = nexmark_below(s, NEXMARK_CHANNELS);
        snprintf(b->channel, sizeof b->channel, "channel-%" PRIu64, k);
        nexmark_channel_url(cfg->seed, NEXMARK_STREAM_URL, k, true, b->url);
    }
}

/* Fills *ev with event number n of the stream that cfg defines. */
static inline void nexmark_event(const nexmark_config_t *cfg, uint64_t n, nexmark_event_t *ev)
{
    uint64_t s = nexmark_stream(cfg->seed, NEXMARK_STREAM_EVENT, n);
    uint64_t offset = n % NEXMARK_PROPORTION_DENOM;
    ev->number = n;
    ev->date_time = nexmark_time(cfg, n);
    if (offset < NEXMARK_PERSON_PROPORTION) {
        ev->kind = NEXMARK_PERSON;
        ev->pad_target = cfg->avg_person_bytes;
        nexmark_person(n, &s, &ev->person);
    } else if (offset < NEXMARK_PERSON_PROPORTION + NEXMARK_AUCTION_PROPORTION) {
        ev->kind = NEXMARK_AUCTION;
        ev->pad_target = cfg->avg_auction_bytes;
        nexmark_auction(cfg, n, ev->date_time, &s, &ev->auction);
    } else {
        ev->kind = NEXMARK_BID;
        ev->pad_target = cfg->avg_bid_bytes;
        nexmark_bid(cfg, n, &s, &ev->bid);
    }
    ev->pad_rng = s;
}

/* The record key: the person's id, the auction's id, the bid's auction id. */
static inline int64_t nexmark_key(const nexmark_event_t *ev)
{
    switch (ev->kind) {
    case NEXMARK_PERSON:
        return ev->person.id;
    case NEXMARK_AUCTION:
        return ev->auction.id;
    default:
        return ev->bid.auction;
    }
}

/* True when str can go between JSON quotes as it is: printable ASCII without '"' and '\'. */
static inline bool nexmark_plain(const char *str)
{
    for (; *str; str++)
        if (*str < 0x20 || *str > 0x7e || *str == '"' || *str == '\\')
            return false;
    return true;
}

/* Writes ev's value, compact JSON padded by "extra", into buf (size >= NEXMARK_JSON_MAX) and
 * returns its length (buf is also NUL-terminated). The same event always gives the same bytes. */
static inline size_t nexmark_json(const nexmark_event_t *ev, char *buf, size_t size)
{
    int n;
    const nexmark_person_t *p = &ev->person;
    const nexmark_auction_t *a = &ev->auction;
    const nexmark_bid_t *b = &ev->bid;
    assert(size >= NEXMARK_JSON_MAX);
    switch (ev->kind) {
    case NEXMARK_PERSON:
        assert(nexmark_plain(p->name) && nexmark_plain(p->email) && nexmark_plain(p->credit_card) &&
               nexmark_plain(p->city) && nexmark_plain(p->state));
        n = snprintf(buf, size,
                     "{\"id\":%" PRId64 ",\"name\":\"%s\",\"emailAddress\":\"%s\","
                     "\"creditCard\":\"%s\",\"city\":\"%s\",\"state\":\"%s\",\"dateTime\":%" PRId64
                     ",\"extra\":\"",
                     p->id, p->name, p->email, p->credit_card, p->city, p->state, ev->date_time);
        break;
    case NEXMARK_AUCTION:
        assert(nexmark_plain(a->item_name) && nexmark_plain(a->description));
        n = snprintf(buf, size,
                     "{\"id\":%" PRId64 ",\"itemName\":\"%s\",\"description\":\"%s\","
                     "\"initialBid\":%" PRId64 ",\"reserve\":%" PRId64 ",\"dateTime\":%" PRId64
                     ",\"expires\":%" PRId64 ",\"seller\":%" PRId64 ",\"category\":%" PRId64
                     ",\"extra\":\"",
                     a->id, a->item_name, a->description, a->initial_bid, a->reserve, ev->date_time,
                     a->expires, a->seller, a->category);
        break;
    default:
        assert(nexmark_plain(b->channel) && nexmark_plain(b->url));
        n = snprintf(buf, size,
                     "{\"auction\":%" PRId64 ",\"bidder\":%" PRId64 ",\"price\":%" PRId64
                     ",\"channel\":\"%s\",\"url\":\"%s\",\"dateTime\":%" PRId64 ",\"extra\":\"",
                     b->auction, b->bidder, b->price, b->channel, b->url, ev->date_time);
        break;
    }
    assert(n > 0 && (size_t)n + 3 <= size);

    /* Beam's padding: the gap to the target, less up to 20% or more up to 20% (uniform, so
     * the mean is the gap); nothing when the fields alone reach the target. */
    size_t len = (size_t)n, cur = len + 2; /* with the closing "} */
    size_t extra = 0;
    uint64_t s = ev->pad_rng;
    if (ev->pad_target > 0 && cur < (size_t)ev->pad_target) {
        size_t gap = (size_t)ev->pad_target - cur, delta = (2 * gap + 5) / 10;
        extra = gap - delta + (size_t)nexmark_below(&s, 2 * delta + 1);
    }
    if (extra > size - cur - 1)
        extra = size - cur - 1; /* only with absurd targets; never silently overrun */
    while (extra > 0) {
        /* 13 letters from one draw: base-26 digits of a 64-bit number */
        uint64_t r = nexmark_next(&s);
        for (int i = 0; i < 13 && extra > 0; i++, extra--, r /= 26)
            buf[len++] = (char)('a' + r % 26);
    }
    buf[len++] = '"';
    buf[len++] = '}';
    buf[len] = 0;
    return len;
}

#endif
