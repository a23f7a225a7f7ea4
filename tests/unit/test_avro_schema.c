/*
 * The Avro schema model (schema/avro_schema.c, schema/avro_canonical.c): parsing and validation
 * as the Avro 1.11 specification says, errors naming the JSON path of the culprit, Parsing
 * Canonical Form and CRC-64-AVRO fingerprints against Avro's own test vectors, the normalized
 * form, schema references (given texts and a resolver), and failing every allocation in turn.
 *
 * Schemas in the tables are written with ' for " (q() swaps them) so they read as JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/schema.h>

#include "tests/common/fail_nth_alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns s with every ' made ", in one of a few rotating static buffers. */
static const char *q(const char *s)
{
    static char bufs[4][8192];
    static int next;
    char *b = bufs[next++ % 4];
    size_t n = strlen(s);
    assert_true(n < sizeof bufs[0]);
    for (size_t i = 0; i <= n; i++)
        b[i] = s[i] == '\'' ? '"' : s[i];
    return b;
}

static rill_avro_schema_t *parse_opts(const char *text, const rill_avro_parse_opts_t *opts,
                                      char *err, size_t err_size)
{
    const char *json = q(text);
    return rill_avro_schema_parse(json, strlen(json), opts, err, err_size);
}

static rill_avro_schema_t *parse_ok(const char *text, const rill_avro_parse_opts_t *opts)
{
    char err[512] = "";
    rill_avro_schema_t *schema = parse_opts(text, opts, err, sizeof err);
    if (!schema)
        fail_msg("expected %s to parse, got: %s", text, err);
    return schema;
}

/* ---- Parsing Canonical Form and fingerprints ---- */

typedef struct {
    const char *input;
    const char *canonical;
    int64_t fingerprint; /* 0: the vector gives none */
} pcf_case_t;

/* From apache/avro share/test/data/schema-tests.txt (the vectors of TestSchemaNormalization in
 * Avro's Java tests, which cross-checks the fingerprints with a direct implementation), cases
 * 000 to 033, in order. */
static const pcf_case_t pcf_cases[] = {
    {"'null'", "'null'", 7195948357588979594},
    {"{'type':'null'}", "'null'", 0},
    {"'boolean'", "'boolean'", -6970731678124411036},
    {"{'type':'boolean'}", "'boolean'", 0},
    {"'int'", "'int'", 8247732601305521295},
    {"{'type':'int'}", "'int'", 0},
    {"'long'", "'long'", -3434872931120570953},
    {"{'type':'long'}", "'long'", 0},
    {"'float'", "'float'", 5583340709985441680},
    {"{'type':'float'}", "'float'", 0},
    {"'double'", "'double'", -8181574048448539266},
    {"{'type':'double'}", "'double'", 0},
    {"'bytes'", "'bytes'", 5746618253357095269},
    {"{'type':'bytes'}", "'bytes'", 0},
    {"'string'", "'string'", -8142146995180207161},
    {"{'type':'string'}", "'string'", 0},
    {"[  ]", "[]", -1241056759729112623},
    {"[ 'int'  ]", "['int']", -5232228896498058493},
    {"[ 'int' , {'type':'boolean'} ]", "['int','boolean']", 5392556393470105090},
    {"{'fields':[], 'type':'record', 'name':'foo'}", "{'name':'foo','type':'record','fields':[]}",
     -4824392279771201922},
    {"{'fields':[], 'type':'record', 'name':'foo', 'namespace':'x.y'}",
     "{'name':'x.y.foo','type':'record','fields':[]}", 5916914534497305771},
    {"{'fields':[], 'type':'record', 'name':'a.b.foo', 'namespace':'x.y'}",
     "{'name':'a.b.foo','type':'record','fields':[]}", -4616218487480524110},
    {"{'fields':[], 'type':'record', 'name':'foo', 'doc':'Useful info'}",
     "{'name':'foo','type':'record','fields':[]}", -4824392279771201922},
    {"{'fields':[], 'type':'record', 'name':'foo', 'aliases':['foo','bar']}",
     "{'name':'foo','type':'record','fields':[]}", -4824392279771201922},
    {"{'fields':[], 'type':'record', 'name':'foo', 'doc':'foo', 'aliases':['foo','bar']}",
     "{'name':'foo','type':'record','fields':[]}", -4824392279771201922},
    {"{'fields':[{'type':{'type':'boolean'}, 'name':'f1'}], 'type':'record', 'name':'foo'}",
     "{'name':'foo','type':'record','fields':[{'name':'f1','type':'boolean'}]}",
     7843277075252814651},
    /* 026: its default "true" for a boolean is not valid (see test_defaults): parsed lax. */
    {"{ 'fields':[{'type':'boolean', 'aliases':[], 'name':'f1', 'default':'true'},\n"
     "            {'order':'descending','name':'f2','doc':'Hello','type':'int'}],\n"
     "  'type':'record', 'name':'foo'\n}",
     "{'name':'foo','type':'record','fields':[{'name':'f1','type':'boolean'},{'name':'f2','type':"
     "'int'}]}",
     -4860222112080293046},
    {"{'type':'enum', 'name':'foo', 'symbols':['A1']}",
     "{'name':'foo','type':'enum','symbols':['A1']}", -6342190197741309591},
    {"{'namespace':'x.y.z', 'type':'enum', 'name':'foo', 'doc':'foo bar', 'symbols':['A1', 'A2']}",
     "{'name':'x.y.z.foo','type':'enum','symbols':['A1','A2']}", -4448647247586288245},
    {"{'name':'foo','type':'fixed','size':15}", "{'name':'foo','type':'fixed','size':15}",
     1756455273707447556},
    {"{'namespace':'x.y.z', 'type':'fixed', 'name':'foo', 'doc':'foo bar', 'size':32}",
     "{'name':'x.y.z.foo','type':'fixed','size':32}", -3064184465700546786},
    {"{ 'items':{'type':'null'}, 'type':'array'}", "{'type':'array','items':'null'}",
     -589620603366471059},
    {"{ 'values':'string', 'type':'map'}", "{'type':'map','values':'string'}",
     -8732877298790414990},
    {"  {'name':'PigValue','type':'record',\n"
     "   'fields':[{'name':'value', 'type':['null', 'int', 'long', 'PigValue']}]}",
     "{'name':'PigValue','type':'record','fields':[{'name':'value','type':['null','int','long',"
     "'PigValue']}]}",
     -1759257747318642341},
};

static void test_canonical_form_vectors(void **state)
{
    rill_avro_parse_opts_t lax = {.lax_defaults = true};
    size_t fingerprints = 0;
    for (size_t i = 0; i < sizeof pcf_cases / sizeof pcf_cases[0]; i++) {
        const pcf_case_t *c = &pcf_cases[i];
        rill_avro_schema_t *schema = parse_ok(c->input, &lax);
        const char *want = q(c->canonical);
        if (strcmp(rill_avro_schema_canonical(schema), want) != 0)
            fail_msg("case %03zu: canonical %s, want %s", i, rill_avro_schema_canonical(schema),
                     want);
        if (c->fingerprint) {
            fingerprints++;
            if ((int64_t)rill_avro_schema_fingerprint(schema) != c->fingerprint)
                fail_msg("case %03zu: fingerprint %" PRId64 ", want %" PRId64, i,
                         (int64_t)rill_avro_schema_fingerprint(schema), c->fingerprint);
        }
        rill_avro_schema_unref(schema);
    }
    assert_int_equal(sizeof pcf_cases / sizeof pcf_cases[0], 34);
    assert_int_equal(fingerprints, 26);
}

/* The specification's fingerprint of no bytes is the algorithm's EMPTY constant. */
static void test_crc64(void **state)
{
    assert_true(rill_avro_crc64("", 0) == 0xc15d213aa4d7a795ULL);
    assert_true(rill_avro_crc64("\"int\"", 5) == (uint64_t)8247732601305521295LL);
    assert_true(rill_avro_crc64("\"int\"", 5) != rill_avro_crc64("\"long\"", 6));
}

/* More canonical forms: full names everywhere, a named type written once then by name,
 * logical types and other attributes stripped (specification, "Transforming into Parsing
 * Canonical Form": [FULLNAMES], [STRIP], [ORDER]). */
static const pcf_case_t more_pcf[] = {
    {"{'type':'record','name':'R','namespace':'a.b','fields':[{'name':'x','type':{'type':'enum',"
     "'name':'E','symbols':['A']}},{'name':'y','type':'E'},{'name':'z','type':'a.b.E'}]}",
     "{'name':'a.b.R','type':'record','fields':[{'name':'x','type':{'name':'a.b.E','type':'enum',"
     "'symbols':['A']}},{'name':'y','type':'a.b.E'},{'name':'z','type':'a.b.E'}]}",
     0},
    {"{'type':'long','logicalType':'timestamp-millis'}", "'long'", 0},
    {"{'type':'bytes','logicalType':'decimal','precision':4,'scale':2}", "'bytes'", 0},
    {"{'type':'record','name':'R','fields':[{'name':'x','type':'int','default':1,'doc':'d',"
     "'aliases':['old'],'order':'ignore','custom':'c'}],'custom':{'a':1}}",
     "{'name':'R','type':'record','fields':[{'name':'x','type':'int'}]}", 0},
    {"{'type':'map','values':{'type':'array','items':{'type':'fixed','name':'F','namespace':'n',"
     "'size':2}}}",
     "{'type':'map','values':{'type':'array','items':{'name':'n.F','type':'fixed','size':2}}}", 0},
    {"{'type':'record','name':'Outer','namespace':'o','fields':[{'name':'in','type':{'type':"
     "'record','name':'Inner','namespace':'i','fields':[{'name':'e','type':{'type':'enum','name':"
     "'E','symbols':['X']}}]}}]}",
     "{'name':'o.Outer','type':'record','fields':[{'name':'in','type':{'name':'i.Inner','type':"
     "'record','fields':[{'name':'e','type':{'name':'i.E','type':'enum','symbols':['X']}}]}}]}",
     0},
};

static void test_canonical_form_more(void **state)
{
    for (size_t i = 0; i < sizeof more_pcf / sizeof more_pcf[0]; i++) {
        rill_avro_schema_t *schema = parse_ok(more_pcf[i].input, NULL);
        assert_string_equal(rill_avro_schema_canonical(schema), q(more_pcf[i].canonical));
        rill_avro_schema_unref(schema);
    }
}

/* ---- validation: good schemas ---- */

/* Valid schemas: the specification's examples ("Complex Types", "Names", "Logical Types") and
 * cases from Avro's TestSchema.java (recursive records, namespaces, null namespace lookup). */
static const char *const valid_schemas[] = {
    /* The specification's LinkedList example. */
    "{'type':'record','name':'LongList','aliases':['LinkedLongs'],'fields':[{'name':'value',"
    "'type':'long'},{'name':'next','type':['null','LongList']}]}",
    /* Its enum and fixed examples. */
    "{'type':'enum','name':'Suit','symbols':['SPADES','HEARTS','DIAMONDS','CLUBS']}",
    "{'type':'fixed','size':16,'name':'md5'}",
    "{'type':'array','items':'string','default':[]}",
    "{'type':'map','values':'long','default':{}}",
    "['null','string']",
    /* The specification's names example: X's namespace from its enclosing type. */
    "{'type':'record','name':'Example','namespace':'org.foo','fields':[{'name':'inheritNull',"
    "'type':{'type':'enum','name':'Simple','namespace':'','symbols':['a','b']}},{'name':"
    "'explicitNamespace','type':{'type':'fixed','name':'Simple','namespace':'explicit','size':12}},"
    "{'name':'fullName','type':{'type':'record','name':'a.full.Name','namespace':'ignored',"
    "'fields':[{'name':'inheritNamespace','type':{'type':'enum','name':'Understanding','symbols':"
    "['d','e']}}]}},{'name':'u','type':'a.full.Understanding'},{'name':'s','type':'Simple'}]}",
    /* Enum default (Avro 1.9+). */
    "{'type':'enum','name':'E','symbols':['A','B','UNKNOWN'],'default':'UNKNOWN'}",
    /* Every logical type of the specification on its underlying type. */
    "{'type':'record','name':'L','fields':[{'name':'d','type':{'type':'bytes','logicalType':"
    "'decimal','precision':9,'scale':2}},{'name':'df','type':{'type':'fixed','name':'D','size':8,"
    "'logicalType':'decimal','precision':18}},{'name':'u','type':{'type':'string','logicalType':"
    "'uuid'}},{'name':'dt','type':{'type':'int','logicalType':'date'}},{'name':'tm','type':{'type':"
    "'int','logicalType':'time-millis'}},{'name':'tu','type':{'type':'long','logicalType':"
    "'time-micros'}},{'name':'tsm','type':{'type':'long','logicalType':'timestamp-millis'}},"
    "{'name':'tsu','type':{'type':'long','logicalType':'timestamp-micros'}},{'name':'ltm','type':"
    "{'type':'long','logicalType':'local-timestamp-millis'}},{'name':'ltu','type':{'type':'long',"
    "'logicalType':'local-timestamp-micros'}},{'name':'dur','type':{'type':'fixed','name':'Dur',"
    "'size':12,'logicalType':'duration'}}]}",
    /* An unknown logical type is ignored (specification). */
    "{'type':'string','logicalType':'my-own'}",
    /* A named type used by name in a union, and a type object naming a defined type. */
    "{'type':'record','name':'T','fields':[{'name':'a','type':{'type':'fixed','name':'F','size':"
    "1}},{'name':'b','type':['null','F']},{'name':'c','type':{'type':'F'}}]}",
    /* Mutually recursive records. */
    "{'type':'record','name':'A','fields':[{'name':'b','type':['null',{'type':'record','name':'B',"
    "'fields':[{'name':'a','type':['null','A']}]}]}]}",
    /* "error" is a record (protocols). */
    "{'type':'error','name':'Oops','fields':[{'name':'why','type':'string'}]}",
    /* A field named like a type, and an enum symbol named like a primitive. */
    "{'type':'record','name':'R','fields':[{'name':'int','type':{'type':'enum','name':'K',"
    "'symbols':['null','int']}}]}",
    /* Union of two named types of one kind, two different unnamed ones. */
    "[{'type':'record','name':'X','fields':[]},{'type':'record','name':'Y','fields':[]},"
    "{'type':'array','items':'X'},{'type':'map','values':'Y'}]",
    /* namespace: null, as Avro's Java writer emits for the null namespace. */
    "{'type':'record','name':'N','namespace':null,'fields':[]}",
    /* An unqualified reference found in the null namespace (Avro's Java parser does it). */
    "{'type':'record','name':'Top','fields':[{'name':'e','type':{'type':'enum','name':'E',"
    "'symbols':['A']}},{'name':'r','type':{'type':'record','name':'In','namespace':'x','fields':"
    "[{'name':'e2','type':'E'}]}}]}",
};

static void test_valid_schemas(void **state)
{
    for (size_t i = 0; i < sizeof valid_schemas / sizeof valid_schemas[0]; i++)
        rill_avro_schema_unref(parse_ok(valid_schemas[i], NULL));
}

static void test_accessors(void **state)
{
    rill_avro_schema_t *schema =
        parse_ok("{'type':'record','name':'R','namespace':'com.acme','fields':[]}", NULL);
    assert_int_equal(rill_avro_schema_type(schema), RILL_AVRO_RECORD);
    assert_string_equal(rill_avro_schema_name(schema), "com.acme.R");
    assert_ptr_equal(rill_avro_schema_ref(schema), schema);
    rill_avro_schema_unref(schema);
    assert_string_equal(rill_avro_schema_canonical(schema), q("{'name':'com.acme.R','type':"
                                                              "'record','fields':[]}"));
    rill_avro_schema_unref(schema);
    rill_avro_schema_unref(NULL);

    schema = parse_ok("['null','int']", NULL);
    assert_int_equal(rill_avro_schema_type(schema), RILL_AVRO_UNION);
    assert_string_equal(rill_avro_schema_name(schema), "union");
    assert_string_equal(rill_avro_schema_text(schema), "[\"null\",\"int\"]");
    rill_avro_schema_unref(schema);
    assert_string_equal(rill_avro_type_name(RILL_AVRO_FIXED), "fixed");
    assert_null(rill_avro_type_name((rill_avro_type_t)99));
}

/* The read-only model the serde resolves writer -> reader with. */
static void test_model(void **state)
{
    char err[256];
    const char *text =
        q("{'type':'record','name':'R','namespace':'n','aliases':['o.Old'],'fields':["
          "{'name':'id','type':'long','default':7},{'name':'kind','type':{'type':"
          "'enum','name':'K','symbols':['A','B'],'default':'B'},'aliases':['type']},"
          "{'name':'amount','type':{'type':'fixed','name':'Dec','size':8,"
          "'logicalType':'decimal','precision':10,'scale':2}},{'name':'tags','type':"
          "{'type':'map','values':{'type':'array','items':'string'}},'default':{}},"
          "{'name':'next','type':['null','R'],'default':null}]}");
    rill_avro_schema_t *schema = rill_avro_schema_new(text, strlen(text), err, sizeof err);
    assert_non_null(schema);
    assert_string_equal(rill_avro_schema_text(schema), text);
    const rill_avro_node_t *r = rill_avro_schema_root(schema);
    assert_int_equal(rill_avro_node_type(r), RILL_AVRO_RECORD);
    assert_string_equal(rill_avro_node_name(r), "n.R");
    assert_int_equal(rill_avro_node_count(r), 5);
    assert_string_equal(rill_avro_node_field_name(r, 0), "id");
    assert_null(rill_avro_node_field_name(r, 5));
    assert_string_equal(rill_avro_node_field_default(r, 0), "7");
    assert_null(rill_avro_node_field_default(r, 1));
    assert_string_equal(rill_avro_node_field_default(r, 3), "{}");
    assert_string_equal(rill_avro_node_field_default(r, 4), "null");
    assert_int_equal(rill_avro_node_field_index(r, "kind", false), 1);
    assert_int_equal(rill_avro_node_field_index(r, "type", false), -1);
    assert_int_equal(rill_avro_node_field_index(r, "type", true), 1);
    assert_int_equal(rill_avro_node_field_index(r, "nope", true), -1);

    const rill_avro_node_t *k = rill_avro_node_child(r, 1);
    assert_int_equal(rill_avro_node_type(k), RILL_AVRO_ENUM);
    assert_string_equal(rill_avro_node_name(k), "n.K");
    assert_int_equal(rill_avro_node_count(k), 2);
    assert_string_equal(rill_avro_node_symbol(k, 1), "B");
    assert_null(rill_avro_node_symbol(k, 2));
    assert_string_equal(rill_avro_node_enum_default(k), "B");
    assert_null(rill_avro_node_child(k, 0));

    const rill_avro_node_t *dec = rill_avro_node_child(r, 2);
    int precision = 0, scale = 0;
    assert_string_equal(rill_avro_node_logical_type(dec, &precision, &scale), "decimal");
    assert_int_equal(precision, 10);
    assert_int_equal(scale, 2);
    assert_int_equal(rill_avro_node_fixed_size(dec), 8);
    assert_int_equal(rill_avro_node_fixed_size(k), 0);

    const rill_avro_node_t *map = rill_avro_node_child(r, 3);
    assert_int_equal(rill_avro_node_type(map), RILL_AVRO_MAP);
    assert_int_equal(rill_avro_node_count(map), 1);
    const rill_avro_node_t *arr = rill_avro_node_child(map, 0);
    assert_int_equal(rill_avro_node_type(arr), RILL_AVRO_ARRAY);
    assert_int_equal(rill_avro_node_type(rill_avro_node_child(arr, 0)), RILL_AVRO_STRING);
    assert_null(rill_avro_node_child(arr, 1));
    assert_null(rill_avro_node_name(arr));

    /* Recursion: the union's second branch is the record itself. */
    const rill_avro_node_t *u = rill_avro_node_child(r, 4);
    assert_int_equal(rill_avro_node_count(u), 2);
    assert_int_equal(rill_avro_node_type(rill_avro_node_child(u, 0)), RILL_AVRO_NULL);
    assert_ptr_equal(rill_avro_node_child(u, 1), r);
    assert_null(rill_avro_node_logical_type(u, NULL, NULL));

    /* Names as compatibility matches them: unqualified, or a reader alias. */
    const char *old_text = q("{'type':'record','name':'Old','namespace':'o','fields':[]}");
    const char *other_ns = q("{'type':'record','name':'R','namespace':'elsewhere','fields':[]}");
    rill_avro_schema_t *old = rill_avro_schema_new(old_text, strlen(old_text), err, sizeof err);
    rill_avro_schema_t *other = rill_avro_schema_new(other_ns, strlen(other_ns), err, sizeof err);
    assert_true(rill_avro_node_names_match(r, rill_avro_schema_root(old)));
    assert_false(rill_avro_node_names_match(rill_avro_schema_root(old), r));
    assert_true(rill_avro_node_names_match(r, rill_avro_schema_root(other)));
    assert_false(rill_avro_node_names_match(r, k));
    assert_false(rill_avro_node_names_match(r, arr));
    rill_avro_schema_unref(old);
    rill_avro_schema_unref(other);
    rill_avro_schema_unref(schema);
}

/* ---- validation: bad schemas, each error naming its path ---- */

typedef struct {
    const char *schema;
    const char *error; /* the whole message (not passed through q()) */
} bad_case_t;

/* Derived from the specification's rules (the section of each type) and Avro's TestSchema.java
 * (testDuplicateRecordFieldName, testNestedNullNamespace, union and name checks). */
static const bad_case_t bad_cases[] = {
    {"{'type':'record','name':'r','fields':[{'name':'a','type':'int'},{'name':'b','type':'Foo'}]}",
     "fields[1].type: unknown type 'Foo'"},
    {"{'type':'record','name':'r','namespace':'n','fields':[{'name':'a','type':{'type':'record',"
     "'name':'s','fields':[{'name':'x','type':'int'},{'name':'y','type':['null','Nope']}]}}]}",
     "fields[0].type.fields[1].type[1]: unknown type 'n.Nope'"},
    {"['int',['string']]", "[1]: a union may not immediately contain another union"},
    {"['int','string','int']", "[2]: the union already has a branch of type 'int'"},
    {"[{'type':'array','items':'int'},{'type':'array','items':'long'}]",
     "[1]: the union already has a branch of type 'array'"},
    {"[{'type':'map','values':'int'},{'type':'map','values':'long'}]",
     "[1]: the union already has a branch of type 'map'"},
    {"[{'type':'fixed','name':'F','size':1},'F']",
     "[1]: the union already has a branch of type 'F'"},
    {"[{'type':'long','logicalType':'timestamp-millis'},'long']",
     "[1]: the union already has a branch of type 'long'"},
    {"{'type':'record','fields':[]}", "(top level): a record needs a 'name'"},
    {"{'type':'enum','symbols':['A']}", "(top level): a enum needs a 'name'"},
    {"{'type':'record','name':'1abc','fields':[]}", "name: '1abc' is not a valid name"},
    {"{'type':'record','name':'a-b','fields':[]}", "name: 'a-b' is not a valid name"},
    {"{'type':'record','name':'R','namespace':'a..b','fields':[]}",
     "namespace: 'a..b' is not a valid namespace"},
    {"{'type':'record','name':'R','namespace':5,'fields':[]}",
     "namespace: 'namespace' must be a string (without NUL)"},
    {"{'type':'record','name':'R'}", "fields: a record needs 'fields', an array"},
    {"{'type':'record','name':'R','fields':{}}", "fields: a record needs 'fields', an array"},
    {"{'type':'record','name':'R','fields':[{'name':'a','type':'int'},{'name':'a','type':'long'}]}",
     "fields[1]: a second field named 'a' in record 'R'"},
    {"{'type':'record','name':'R','fields':[{'type':'int'}]}", "fields[0]: a field needs a 'name'"},
    {"{'type':'record','name':'R','fields':[{'name':'a'}]}",
     "fields[0].type: a field needs a 'type'"},
    {"{'type':'record','name':'R','fields':[{'name':'a b','type':'int'}]}",
     "fields[0]: 'a b' is not a valid field name"},
    {"{'type':'record','name':'R','fields':['int']}", "fields[0]: a field must be an object"},
    {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','order':'up'}]}",
     "fields[0]: 'order' must be ascending, descending or ignore, not 'up'"},
    {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','aliases':'b'}]}",
     "fields[0].aliases: 'aliases' must be an array of names"},
    {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','aliases':['ok','no way']}]}",
     "fields[0].aliases[1]: an alias must be a field name"},
    {"{'type':'record','name':'R','aliases':['x.1y'],'fields':[]}",
     "aliases[0]: an alias must be a name"},
    {"{'type':'enum','name':'E','symbols':['A','B','A']}", "symbols[2]: the symbol 'A' appears "
                                                           "twice"},
    {"{'type':'enum','name':'E','symbols':['A','b-c']}", "symbols[1]: an enum symbol must be a "
                                                         "name"},
    {"{'type':'enum','name':'E','symbols':'A'}", "symbols: an enum needs 'symbols', an array of "
                                                 "names"},
    {"{'type':'enum','name':'E','symbols':['A','B'],'default':'C'}",
     "default: the enum default must be one of the symbols of 'E'"},
    {"{'type':'fixed','name':'F'}", "size: a fixed needs a 'size', a non-negative integer"},
    {"{'type':'fixed','name':'F','size':-1}", "size: a fixed needs a 'size', a non-negative "
                                              "integer"},
    {"{'type':'fixed','name':'F','size':'16'}", "size: a fixed needs a 'size', a non-negative "
                                                "integer"},
    {"{'type':'array'}", "items: an array needs 'items'"},
    {"{'type':'map','items':'int'}", "values: an map needs 'values'"},
    {"{'type':'array','items':{'type':'map','values':'nothing'}}",
     "items.values: unknown type 'nothing'"},
    {"'integer'", "(top level): unknown type 'integer'"},
    {"'no such'", "(top level): 'no such' is not a type"},
    {"{'type':'record','name':'int','fields':[]}", "(top level): the name 'int' is a primitive "
                                                   "type's"},
    {"{'type':'record','name':'R','fields':[{'name':'a','type':{'type':'enum','name':'R',"
     "'symbols':['X']}}]}",
     "fields[0].type: the name 'R' is already defined"},
    {"{'type':'record','name':'n.R','fields':[{'name':'a','type':{'type':'fixed','name':'R',"
     "'size':1}}]}",
     "fields[0].type: the name 'n.R' is already defined"},
    {"{'type':{'type':'int'}}", "type: 'type' must be a string"},
    {"{'name':'x'}", "type: a schema object needs a 'type'"},
    {"42", "(top level): a schema must be a string, an object or an array"},
    {"{'type':'record','name':'R','fields':[{'name':'a','type':null}]}",
     "fields[0].type: a schema must be a string, an object or an array"},
    {"{'type':'record', 'name':", "(top level): invalid JSON at line 1, column 25: unexpected "
                                  "token near end of file"},
};

static void test_invalid_schemas(void **state)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        char err[512] = "";
        rill_avro_schema_t *schema = parse_opts(bad_cases[i].schema, NULL, err, sizeof err);
        if (schema)
            fail_msg("case %zu: %s parsed", i, bad_cases[i].schema);
        if (strcmp(err, bad_cases[i].error) != 0)
            fail_msg("case %zu: error '%s', want '%s'", i, err, bad_cases[i].error);
    }
}

/* confluentinc/schema-registry AvroSchemaValidateNamesTest.java: a stored schema (isNew=false)
 * is parsed with lax namespaces but strict names; a new one strictly. */
static void test_lax_namespaces(void **state)
{
    static const struct {
        const char *schema;
        bool lax, ok;
        const char *fullname;
    } cases[] = {
        /* laxNamespaceAcceptedWhenNotNew, ...InFullNameAcceptedWhenNotNew */
        {"{'type':'record','name':'MyRec','namespace':'foo-bar.x','fields':[{'name':'f','type':"
         "'string'}]}",
         true, true, "foo-bar.x.MyRec"},
        {"{'type':'record','name':'foo-bar.x.MyRec','fields':[{'name':'f','type':'string'}]}", true,
         true, "foo-bar.x.MyRec"},
        /* badRecordName, badFieldName, badEnumSymbol, badNestedRecordName, badFixedName */
        {"{'type':'record','name':'bad-name','fields':[{'name':'f','type':'string'}]}", true, false,
         NULL},
        {"{'type':'record','name':'MyRec','fields':[{'name':'bad-field','type':'string'}]}", true,
         false, NULL},
        {"{'type':'record','name':'MyRec','fields':[{'name':'e','type':{'type':'enum','name':'E',"
         "'symbols':['OK','BAD-ONE']}}]}",
         true, false, NULL},
        {"{'type':'record','name':'Outer','fields':[{'name':'inner','type':{'type':'record',"
         "'name':'bad-inner','fields':[{'name':'x','type':'int'}]}}]}",
         true, false, NULL},
        {"{'type':'record','name':'MyRec','fields':[{'name':'f','type':{'type':'fixed','name':"
         "'bad-fixed','size':4}}]}",
         true, false, NULL},
        /* validSchemaAcceptedWhenNotNew, laxNamespaceRejectedWhenNew, validSchemaAcceptedWhenNew */
        {"{'type':'record','name':'MyRec','namespace':'a.b','fields':[{'name':'f','type':'string'},"
         "{'name':'e','type':{'type':'enum','name':'E','symbols':['A','B']}}]}",
         true, true, "a.b.MyRec"},
        {"{'type':'record','name':'MyRec','namespace':'foo-bar.x','fields':[{'name':'f','type':"
         "'string'}]}",
         false, false, NULL},
        {"{'type':'record','name':'MyRec','namespace':'a.b','fields':[{'name':'f','type':"
         "'string'}]}",
         false, true, "a.b.MyRec"},
        /* A lax namespace used by reference, and one that needs escapes in the canonical form. */
        {"{'type':'record','name':'R','namespace':'x-y','fields':[{'name':'a','type':{'type':"
         "'fixed','name':'F','size':1}},{'name':'b','type':'x-y.F'},{'name':'c','type':'F'}]}",
         true, true, "x-y.R"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rill_avro_parse_opts_t opts = {.lax_namespaces = cases[i].lax};
        char err[512] = "";
        rill_avro_schema_t *schema = parse_opts(cases[i].schema, &opts, err, sizeof err);
        if ((schema != NULL) != cases[i].ok)
            fail_msg("case %zu: %s", i, schema ? "parsed" : err);
        if (schema)
            assert_string_equal(rill_avro_schema_name(schema), cases[i].fullname);
        rill_avro_schema_unref(schema);
    }
    rill_avro_parse_opts_t lax = {.lax_namespaces = true};
    const char *text = "{\"type\":\"enum\",\"name\":\"E\",\"namespace\":\"q\\\"u\",\"symbols\":[]}";
    rill_avro_schema_t *schema = rill_avro_schema_parse(text, strlen(text), &lax, NULL, 0);
    assert_non_null(schema);
    assert_string_equal(rill_avro_schema_canonical(schema),
                        "{\"name\":\"q\\\"u.E\",\"type\":\"enum\",\"symbols\":[]}");
    rill_avro_schema_unref(schema);
}

/* ---- defaults ---- */

typedef struct {
    const char *type;
    const char *def;
    bool valid;
} default_case_t;

/* The specification's table of field default values by type (a union's default is of its
 * first branch), and Avro's TestSchemaValidateDefault / TestSchema testDefaultValues cases. */
static const default_case_t default_cases[] = {
    {"'null'", "null", true},
    {"'null'", "0", false},
    {"'boolean'", "true", true},
    {"'boolean'", "'true'", false}, /* schema-tests.txt 026 relies on lax defaults */
    {"'int'", "1", true},
    {"'int'", "-2147483648", true},
    {"'int'", "2147483648", false},
    {"'int'", "1.5", false},
    {"'int'", "'1'", false},
    {"'long'", "9223372036854775807", true},
    {"'long'", "1.0", false},
    {"'float'", "1.5", true},
    {"'float'", "1", true},
    {"'double'", "-0.25", true},
    {"'double'", "'NaN'", false},
    {"'bytes'", "'\\u00ff\\u0000'", true},
    {"'bytes'", "'\\u0100'", false},
    {"'string'", "'foo'", true},
    {"'string'", "null", false},
    {"{'type':'fixed','name':'F','size':2}", "'ab'", true},
    {"{'type':'fixed','name':'F','size':2}", "'abc'", false},
    {"{'type':'enum','name':'E','symbols':['A','B']}", "'B'", true},
    {"{'type':'enum','name':'E','symbols':['A','B']}", "'C'", false},
    {"{'type':'array','items':'int'}", "[1,2]", true},
    {"{'type':'array','items':'int'}", "[1,'x']", false},
    {"{'type':'map','values':'long'}", "{'a':1}", true},
    {"{'type':'map','values':'long'}", "{'a':'b'}", false},
    {"['null','string']", "null", true},
    {"['null','string']", "'foo'", false},
    /* Confluent's AvroCompatibilityTest.testBadDefaultNull: "null" is a string, not null. */
    {"['null','string']", "'null'", false},
    {"['string','null']", "'foo'", true},
    {"['string','null']", "null", false},
    {"{'type':'record','name':'P','fields':[{'name':'x','type':'int'},{'name':'y','type':'int',"
     "'default':0}]}",
     "{'x':1}", true},
    {"{'type':'record','name':'P','fields':[{'name':'x','type':'int'}]}", "{}", false},
    {"{'type':'record','name':'P','fields':[{'name':'x','type':'int'}]}", "{'x':'1'}", false},
    {"{'type':'long','logicalType':'timestamp-millis'}", "0", true},
};

static void test_defaults(void **state)
{
    for (size_t i = 0; i < sizeof default_cases / sizeof default_cases[0]; i++) {
        const default_case_t *c = &default_cases[i];
        char text[1024], err[512] = "";
        snprintf(text, sizeof text,
                 "{'type':'record','name':'R','fields':[{'name':'f','type':%s,'default':%s}]}",
                 c->type, c->def);
        rill_avro_schema_t *schema = parse_opts(text, NULL, err, sizeof err);
        if (c->valid != (schema != NULL))
            fail_msg("case %zu: %s: %s", i, text, schema ? "parsed" : err);
        if (!schema && !strstr(err, "fields[0].default: the default "))
            fail_msg("case %zu: error '%s' does not name the path", i, err);
        rill_avro_schema_unref(schema);
        /* Lax: every one parses. */
        rill_avro_parse_opts_t lax = {.lax_defaults = true};
        rill_avro_schema_unref(parse_ok(text, &lax));
    }
}

/* A default of a recursive record type is checked once the record is whole. */
static void test_recursive_default(void **state)
{
    rill_avro_schema_unref(parse_ok("{'type':'record','name':'N','fields':[{'name':'v','type':"
                                    "'int'},{'name':'next','type':['null','N'],'default':null},"
                                    "{'name':'self','type':['null','N'],'default':null}]}",
                                    NULL));
    char err[512];
    assert_null(parse_opts("{'type':'record','name':'W','fields':[{'name':'w','type':{'type':"
                           "'record','name':'N','fields':[{'name':'v','type':'int'}]},'default':"
                           "{'v':'x'}}]}",
                           NULL, err, sizeof err));
    assert_string_equal(err, "fields[0].default: the default {\"v\":\"x\"} is not a valid value "
                             "of the field's type (N)");
    assert_null(parse_opts("{'type':'record','name':'U','fields':[{'name':'u','type':['int',"
                           "'null'],'default':null}]}",
                           NULL, err, sizeof err));
    assert_string_equal(err, "fields[0].default: the default null is not a valid value of the "
                             "field's type (first branch of the union, int)");
}

/* Logical types: valid ones are annotations kept in the normalized form; invalid ones are
 * ignored, as the specification says ("Logical Types"). */
static void test_logical_types(void **state)
{
    static const struct {
        const char *schema, *logical, *normalized;
    } cases[] = {
        {"{'type':'bytes','logicalType':'decimal','precision':4,'scale':2}", "decimal",
         "{'type':'bytes','logicalType':'decimal','precision':4,'scale':2}"},
        {"{'type':'bytes','logicalType':'decimal','precision':4}", "decimal",
         "{'type':'bytes','logicalType':'decimal','precision':4}"},
        {"{'type':'bytes','logicalType':'decimal','precision':4,'scale':0}", "decimal",
         "{'type':'bytes','logicalType':'decimal','precision':4}"},
        /* scale > precision, precision missing or 0: ignored, kept as plain properties. */
        {"{'type':'bytes','logicalType':'decimal','precision':2,'scale':3}", NULL,
         "{'type':'bytes','logicalType':'decimal','precision':2,'scale':3}"},
        {"{'type':'bytes','logicalType':'decimal'}", NULL,
         "{'type':'bytes','logicalType':'decimal'}"},
        {"{'type':'bytes','logicalType':'decimal','precision':0}", NULL,
         "{'type':'bytes','logicalType':'decimal','precision':0}"},
        {"{'type':'string','logicalType':'decimal','precision':3}", NULL,
         "{'type':'string','logicalType':'decimal','precision':3}"},
        /* A fixed(2) holds 4 decimal digits at most (specification). */
        {"{'type':'fixed','name':'F','size':2,'logicalType':'decimal','precision':4}", "decimal",
         "{'name':'F','type':'fixed','size':2,'logicalType':'decimal','precision':4}"},
        {"{'type':'fixed','name':'F','size':2,'logicalType':'decimal','precision':5}", NULL,
         "{'name':'F','type':'fixed','size':2,'logicalType':'decimal','precision':5}"},
        {"{'type':'string','logicalType':'uuid'}", "uuid",
         "{'type':'string','logicalType':'uuid'}"},
        {"{'type':'int','logicalType':'uuid'}", NULL, "{'type':'int','logicalType':'uuid'}"},
        {"{'type':'int','logicalType':'date'}", "date", "{'type':'int','logicalType':'date'}"},
        {"{'type':'long','logicalType':'date'}", NULL, "{'type':'long','logicalType':'date'}"},
        {"{'type':'int','logicalType':'time-millis'}", "time-millis",
         "{'type':'int','logicalType':'time-millis'}"},
        {"{'type':'long','logicalType':'time-micros'}", "time-micros",
         "{'type':'long','logicalType':'time-micros'}"},
        {"{'type':'long','logicalType':'timestamp-millis'}", "timestamp-millis",
         "{'type':'long','logicalType':'timestamp-millis'}"},
        {"{'type':'long','logicalType':'timestamp-micros'}", "timestamp-micros",
         "{'type':'long','logicalType':'timestamp-micros'}"},
        {"{'type':'int','logicalType':'timestamp-millis'}", NULL,
         "{'type':'int','logicalType':'timestamp-millis'}"},
        {"{'type':'long','logicalType':'local-timestamp-millis'}", "local-timestamp-millis",
         "{'type':'long','logicalType':'local-timestamp-millis'}"},
        {"{'type':'long','logicalType':'local-timestamp-micros'}", "local-timestamp-micros",
         "{'type':'long','logicalType':'local-timestamp-micros'}"},
        {"{'type':'fixed','name':'D','size':12,'logicalType':'duration'}", "duration",
         "{'name':'D','type':'fixed','size':12,'logicalType':'duration'}"},
        {"{'type':'fixed','name':'D','size':11,'logicalType':'duration'}", NULL,
         "{'name':'D','type':'fixed','size':11,'logicalType':'duration'}"},
        {"{'type':'string','logicalType':'mine'}", NULL, "{'type':'string','logicalType':'mine'}"},
        {"'long'", NULL, "'long'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rill_avro_schema_t *schema = parse_ok(cases[i].schema, NULL);
        const char *logical = rill_avro_schema_logical_type(schema);
        if (cases[i].logical ? !logical || strcmp(logical, cases[i].logical) : logical != NULL)
            fail_msg("case %zu: logical type %s, want %s", i, logical ? logical : "none",
                     cases[i].logical ? cases[i].logical : "none");
        if (strcmp(rill_avro_schema_normalized(schema), q(cases[i].normalized)) != 0)
            fail_msg("case %zu: normalized %s, want %s", i, rill_avro_schema_normalized(schema),
                     q(cases[i].normalized));
        rill_avro_schema_unref(schema);
    }
}

/* ---- the normalized form ---- */

static void test_normalized_form(void **state)
{
    rill_avro_schema_t *schema =
        parse_ok("{'namespace':'com.acme','type':'record','name':'User','doc':'a user','aliases':"
                 "['Person','old.Human'],'fields':[{'name':'id','type':'long','doc':'key'},{'name':"
                 "'kind','type':{'type':'enum','name':'Kind','symbols':['A','B'],'default':'A'},"
                 "'default':'B','aliases':['type','category']},{'name':'at','type':{'type':'long',"
                 "'logicalType':'timestamp-millis'},'order':'descending'},{'name':'tags','type':"
                 "{'type':'map','values':'string'},'default':{'b':'2','a':'1'}}]}",
                 NULL);
    /* Confluent's order of attributes: a field's order, doc, aliases, default, then other
     * properties; a named type's doc, aliases, enum default, then other properties. */
    assert_string_equal(
        rill_avro_schema_normalized(schema),
        q("{'name':'com.acme.User','type':'record','fields':[{'name':'id','type':'long','doc':"
          "'key'},{'name':'kind','type':{'name':'com.acme.Kind','type':'enum','symbols':['A','B'],"
          "'default':'A'},'aliases':['category','type'],'default':'B'},{'name':'at','type':{'type':"
          "'long','logicalType':'timestamp-millis'},'order':'descending'},{'name':'tags','type':{"
          "'type':'map','values':'string'},'default':{'a':'1','b':'2'}}],'doc':'a user','aliases':"
          "['com.acme.Person','old.Human']}"));
    rill_avro_schema_unref(schema);

    /* Other properties, sorted, where they stand; float and double defaults as reals. */
    schema = parse_ok("{'type':'record','name':'P','z-prop':[1,{'b':2,'a':1}],'fields':[{'name':"
                      "'d','type':'double','default':1,'x':true},{'name':'ds','type':{'type':"
                      "'array','items':'float','custom':'c'},'default':[1,2.5]},{'name':'s',"
                      "'type':{'type':'string','avro.java.string':'String'}},{'name':'u','type':"
                      "['double','null'],'default':0},{'name':'r','type':{'type':'record','name':"
                      "'In','fields':[{'name':'v','type':'double'}]},'default':{'v':3}}],'a-prop':"
                      "null}",
                      NULL);
    assert_string_equal(
        rill_avro_schema_normalized(schema),
        q("{'name':'P','type':'record','fields':[{'name':'d','type':'double','default':1.0,'x':"
          "true},{'name':'ds','type':{'type':'array','items':'float','custom':'c'},'default':[1.0,"
          "2.5]},{'name':'s','type':{'type':'string','avro.java.string':'String'}},{'name':'u',"
          "'type':['double','null'],'default':0.0},{'name':'r','type':{'name':'In','type':'record',"
          "'fields':[{'name':'v','type':'double'}]},'default':{'v':3.0}}],'a-prop':null,'z-prop':"
          "[1,{'a':1,'b':2}]}"));
    rill_avro_schema_unref(schema);
}

/* Spellings of one schema normalize alike; what a reader of the schema sees tells them apart
 * (docs and properties included, as Confluent's normalize=true, where equal means one id). */
static void test_normalized_equality(void **state)
{
    static const struct {
        const char *a, *b;
        bool same;
    } cases[] = {
        {"{'type':'record','name':'R','namespace':'n','fields':[{'name':'a','type':'int'}]}",
         "{ \"fields\" : [ { \"type\" : {\"type\":\"int\"}, \"name\" : \"a\" } ], "
         "\"name\" : \"n.R\", \"type\" : \"record\", \"namespace\" : \"other\" }",
         true},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int'}]}",
         "{'type':'record','name':'R','doc':'a change of doc is a new schema','fields':[{'name':"
         "'a','type':'int'}]}",
         false},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','doc':''}]}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'int'}]}", false},
        {"{'type':'record','name':'R','doc':'','fields':[]}",
         "{'type':'record','name':'R','fields':[]}", true},
        {"{'type':'record','name':'R','p':1,'q':2,'fields':[]}",
         "{'q':2,'type':'record','fields':[],'p':1,'name':'R'}", true},
        {"{'type':'record','name':'R','p':1,'fields':[]}",
         "{'type':'record','name':'R','p':2,'fields':[]}", false},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'double','default':1}]}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'double','default':1.0}]}",
         true},
        {"{'type':'int','doc':'a primitive has no doc'}", "'int'", true},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','default':1}]}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'int','default':2}]}", false},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int'}]}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'int','default':1}]}", false},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','aliases':['x','y']}]}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'int','aliases':['y','x']}]}",
         true},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','aliases':['x']}]}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'int'}]}", false},
        {"{'type':'long','logicalType':'timestamp-millis'}", "'long'", false},
        {"{'type':'long','logicalType':'timestamp-millis','extra':1}",
         "{'logicalType':'timestamp-millis','type':'long'}", false},
        {"{'type':'long','logicalType':'timestamp-millis','extra':1}",
         "{'extra':1,'logicalType':'timestamp-millis','type':'long'}", true},
        {"{'type':'enum','name':'E','symbols':['A','B']}",
         "{'type':'enum','name':'E','symbols':['B','A']}", false},
        {"{'type':'enum','name':'E','symbols':['A','B'],'default':'A'}",
         "{'type':'enum','name':'E','symbols':['A','B']}", false},
        {"['null','int']", "['int','null']", false},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','order':'ascending'}]}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'int'}]}", true},
        {"{'type':'record','name':'R','fields':[{'name':'a','type':'int','default':{'b':1,'a':2}}]"
         "}",
         "{'type':'record','name':'R','fields':[{'name':'a','type':'int','default':{'a':2,'b':1}}]"
         "}",
         true},
    };
    rill_avro_parse_opts_t lax = {.lax_defaults = true};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rill_avro_schema_t *a = parse_ok(cases[i].a, &lax), *b = parse_ok(cases[i].b, &lax);
        bool same = strcmp(rill_avro_schema_normalized(a), rill_avro_schema_normalized(b)) == 0;
        if (same != cases[i].same)
            fail_msg("case %zu: %s vs %s", i, rill_avro_schema_normalized(a),
                     rill_avro_schema_normalized(b));
        rill_avro_schema_unref(a);
        rill_avro_schema_unref(b);
    }
}

/* ---- references ---- */

static const char *address_schema = "{'type':'record','name':'Address','namespace':'com.acme',"
                                    "'fields':[{'name':'city','type':'string'}]}";

/* Confluent's way: the referenced schemas' texts come first, in order. */
static void test_references_given(void **state)
{
    char ref[512];
    snprintf(ref, sizeof ref, "%s", q(address_schema));
    const char *refs[] = {ref};
    rill_avro_parse_opts_t opts = {.refs = refs, .ref_count = 1};
    rill_avro_schema_t *schema =
        parse_ok("{'type':'record','name':'User','namespace':'com.acme','fields':[{'name':'home',"
                 "'type':'Address'},{'name':'work','type':['null','com.acme.Address']}]}",
                 &opts);
    /* The canonical form inlines the referenced type (it is what the data's shape is); the
     * normalized form names it, as the referenced subject defines it. */
    assert_string_equal(rill_avro_schema_canonical(schema),
                        q("{'name':'com.acme.User','type':'record','fields':[{'name':'home','type':"
                          "{'name':'com.acme.Address','type':'record','fields':[{'name':'city',"
                          "'type':'string'}]}},{'name':'work','type':['null','com.acme.Address']}]"
                          "}"));
    assert_string_equal(rill_avro_schema_normalized(schema),
                        q("{'name':'com.acme.User','type':'record','fields':[{'name':'home','type':"
                          "'com.acme.Address'},{'name':'work','type':['null','com.acme.Address']}]"
                          "}"));
    rill_avro_schema_unref(schema);

    /* Without the reference it is an unknown type. */
    char err[512];
    assert_null(parse_opts("{'type':'record','name':'User','namespace':'com.acme','fields':[{"
                           "'name':'home','type':'Address'}]}",
                           NULL, err, sizeof err));
    assert_string_equal(err, "fields[0].type: unknown type 'com.acme.Address'");

    /* A broken reference names itself. */
    const char *bad[] = {"{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"x\","
                         "\"type\":\"Q\"}]}"};
    rill_avro_parse_opts_t bad_opts = {.refs = bad, .ref_count = 1};
    assert_null(parse_opts("'B'", &bad_opts, err, sizeof err));
    assert_string_equal(err, "reference 'refs[0]': fields[0].type: unknown type 'Q'");
}

typedef struct {
    int calls;
    char last[128];
} resolver_t;

/* Knows com.acme.Address, and A and B that refer to each other; fails for "Broken". */
static int resolve(void *opaque, const char *name, rill_buf_t *text)
{
    static char buf[3][512];
    resolver_t *r = opaque;
    r->calls++;
    snprintf(r->last, sizeof r->last, "%s", name);
    const char *src = NULL;
    int slot = 0;
    if (strcmp(name, "com.acme.Address") == 0)
        src = address_schema;
    else if (strcmp(name, "A") == 0)
        src = "{'type':'record','name':'A','fields':[{'name':'b','type':['null','B']}]}", slot = 1;
    else if (strcmp(name, "B") == 0)
        src = "{'type':'record','name':'B','fields':[{'name':'a','type':['null','A']}]}", slot = 2;
    else if (strcmp(name, "Lies") == 0)
        src = "{'type':'enum','name':'Truth','symbols':['X']}";
    else if (strcmp(name, "BadDefault") == 0)
        src = "{'type':'record','name':'BadDefault','fields':[{'name':'i','type':'int','default':"
              "'x'}]}";
    else if (strcmp(name, "Broken") == 0)
        return RILL_EIO;
    if (!src)
        return RILL_ENOENT;
    snprintf(buf[slot], sizeof buf[slot], "%s", q(src));
    *text = rill_buf_str(buf[slot]);
    return 0;
}

static void test_references_resolver(void **state)
{
    resolver_t r = {0};
    rill_avro_parse_opts_t opts = {.resolve = resolve, .opaque = &r};
    rill_avro_schema_t *schema =
        parse_ok("{'type':'record','name':'User','namespace':'com.acme','fields':[{'name':'a',"
                 "'type':'Address'},{'name':'b','type':'Address'}]}",
                 &opts);
    assert_int_equal(r.calls, 1); /* asked once: then it is known */
    assert_string_equal(r.last, "com.acme.Address");
    rill_avro_schema_unref(schema);

    /* Mutually recursive referenced schemas. */
    r.calls = 0;
    schema = parse_ok("{'type':'record','name':'Top','fields':[{'name':'a','type':'A'}]}", &opts);
    assert_int_equal(r.calls, 2);
    assert_string_equal(rill_avro_schema_canonical(schema),
                        q("{'name':'Top','type':'record','fields':[{'name':'a','type':{'name':'A',"
                          "'type':'record','fields':[{'name':'b','type':['null',{'name':'B','type'"
                          ":'record','fields':[{'name':'a','type':['null','A']}]}]}]}}]}"));
    assert_string_equal(rill_avro_schema_normalized(schema),
                        q("{'name':'Top','type':'record','fields':[{'name':'a','type':'A'}]}"));
    rill_avro_schema_unref(schema);

    char err[512];
    assert_null(parse_opts("{'type':'record','name':'T','fields':[{'name':'x','type':'Nobody'}]}",
                           &opts, err, sizeof err));
    assert_string_equal(err, "fields[0].type: unknown type 'Nobody'");
    assert_null(parse_opts("['null','Lies']", &opts, err, sizeof err));
    assert_string_equal(err, "[1]: the schema the resolver gave for 'Lies' does not define it");
    assert_null(parse_opts("['null','BadDefault']", &opts, err, sizeof err));
    assert_string_equal(err, "reference 'BadDefault': fields[0].default: the default \"x\" is not "
                             "a valid value of the field's type (int)");
    assert_null(parse_opts("['null','Broken']", &opts, err, sizeof err));
    assert_string_equal(err, "[1]: the reference resolver failed for 'Broken': input/output error");
}

/* ---- out of memory ---- */

/* Fails each allocation in turn: the parse fails cleanly (no leak, no crash) until it has all
 * it needs. jansson's own allocations are not counted (it has its own allocator). */
static void test_out_of_memory(void **state)
{
    const char *text = q("{'type':'record','name':'R','namespace':'n','aliases':['Q'],'fields':["
                         "{'name':'a','type':['null',{'type':'enum','name':'E','symbols':['A','B'"
                         "],'default':'A'}],'default':null,'aliases':['x']},{'name':'b','type':"
                         "{'type':'array','items':'R'}},{'name':'c','type':{'type':'long',"
                         "'logicalType':'timestamp-millis'},'default':1}]}");
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", text);
    assert_int_equal(fail_nth_install(), 0);
    long n;
    for (n = 0; n < 1000; n++) {
        fail_nth_arm(n);
        char err[256];
        rill_avro_schema_t *schema =
            rill_avro_schema_parse(copy, strlen(copy), NULL, err, sizeof err);
        fail_nth_disarm();
        if (schema) {
            rill_avro_schema_unref(schema);
            break;
        }
        assert_string_equal(err + strlen(err) - strlen("out of memory"), "out of memory");
    }
    rill_set_allocator(NULL, NULL, NULL);
    assert_true(n > 10 && n < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_form_vectors),
        cmocka_unit_test(test_crc64),
        cmocka_unit_test(test_canonical_form_more),
        cmocka_unit_test(test_valid_schemas),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_invalid_schemas),
        cmocka_unit_test(test_lax_namespaces),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_recursive_default),
        cmocka_unit_test(test_logical_types),
        cmocka_unit_test(test_normalized_form),
        cmocka_unit_test(test_normalized_equality),
        cmocka_unit_test(test_references_given),
        cmocka_unit_test(test_references_resolver),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
