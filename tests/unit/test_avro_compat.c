/*
 * Avro compatibility (schema/avro_compat.c): the specification's schema-resolution rules on
 * reader/writer pairs, each issue checked for its kind, its location and its detail; then
 * Confluent's seven levels over a subject's versions, transitive ones included; the verbose
 * messages the registry returns.
 *
 * The pairs are ported as data from Apache Avro's Java tests (TestSchemaCompatibility*.java,
 * with the schemas of TestSchemas.java), from Karapace's tests (another Confluent-compatible
 * registry: aiven/karapace tests/unit/test_avro_compatibility.py) and from Confluent's
 * AvroCompatibilityTest.java; a comment above each group names its source. Schemas are written
 * with ' for " (q() swaps them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <rill/schema.h>

#include "tests/common/fail_nth_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *q(const char *s, char *buf, size_t size)
{
    size_t n = strlen(s);
    assert_true(n < size);
    for (size_t i = 0; i <= n; i++)
        buf[i] = s[i] == '\'' ? '"' : s[i];
    return buf;
}

static rill_avro_schema_t *parse(const char *text)
{
    char buf[8192], err[512] = "";
    q(text, buf, sizeof buf);
    rill_avro_schema_t *schema = rill_avro_schema_parse(buf, strlen(buf), NULL, err, sizeof err);
    if (!schema)
        fail_msg("%s does not parse: %s", text, err);
    return schema;
}

/* Renders a result as "KIND path: detail" lines joined by "; " ("" when compatible). */
static void render(const rill_compat_result_t *result, char *out, size_t size)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < rill_compat_result_count(result); i++) {
        const rill_compat_issue_t *issue = rill_compat_result_at(result, i);
        len += (size_t)snprintf(out + len, size - len, "%s%s %s: %s", i ? "; " : "",
                                issue->error_type, issue->path, issue->detail);
        assert_string_equal(issue->error_type, rill_avro_incompat_name(issue->kind));
        assert_true(len < size);
    }
}

typedef struct {
    const char *reader, *writer;
    const char *expected; /* "" compatible; else the rendered issues */
} pair_case_t;

static size_t pairs_checked;

static void run_pairs(const pair_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rill_avro_schema_t *reader = parse(cases[i].reader), *writer = parse(cases[i].writer);
        rill_compat_result_t *result = NULL;
        assert_int_equal(rill_avro_compatible(reader, writer, &result), 0);
        char got[4096];
        render(result, got, sizeof got);
        if (strcmp(got, cases[i].expected) != 0)
            fail_msg("case %zu: reader %s, writer %s:\n got  '%s'\n want '%s'", i, cases[i].reader,
                     cases[i].writer, got, cases[i].expected);
        rill_compat_result_destroy(result);
        rill_avro_schema_unref(reader);
        rill_avro_schema_unref(writer);
        pairs_checked++;
    }
}

#define RUN(cases) run_pairs(cases, sizeof cases / sizeof cases[0])

/* The schemas of Avro's TestSchemas.java (the same names; DINT is an int with default 0). */
#define NULL_S                          "'null'"
#define BOOLEAN_S                       "'boolean'"
#define INT_S                           "'int'"
#define LONG_S                          "'long'"
#define FLOAT_S                         "'float'"
#define DOUBLE_S                        "'double'"
#define STRING_S                        "'string'"
#define BYTES_S                         "'bytes'"
#define INT_ARRAY                       "{'type':'array','items':'int'}"
#define LONG_ARRAY                      "{'type':'array','items':'long'}"
#define STRING_ARRAY                    "{'type':'array','items':'string'}"
#define INT_MAP                         "{'type':'map','values':'int'}"
#define LONG_MAP                        "{'type':'map','values':'long'}"
#define STRING_MAP                      "{'type':'map','values':'string'}"
#define ENUM1_AB                        "{'type':'enum','name':'Enum1','symbols':['A','B']}"
#define ENUM1_ABC                       "{'type':'enum','name':'Enum1','symbols':['A','B','C']}"
#define ENUM1_BC                        "{'type':'enum','name':'Enum1','symbols':['B','C']}"
#define ENUM2_AB                        "{'type':'enum','name':'Enum2','symbols':['A','B']}"
#define EMPTY_UNION                     "[]"
#define INT_UNION                       "['int']"
#define LONG_UNION                      "['long']"
#define FLOAT_UNION                     "['float']"
#define DOUBLE_UNION                    "['double']"
#define STRING_UNION                    "['string']"
#define BYTES_UNION                     "['bytes']"
#define INT_STRING_UNION                "['int','string']"
#define STRING_INT_UNION                "['string','int']"
#define INT_FLOAT_UNION                 "['int','float']"
#define INT_LONG_UNION                  "['int','long']"
#define INT_LONG_FLOAT_DOUBLE_UNION     "['int','long','float','double']"
#define RECORD1(fields)                 "{'type':'record','name':'Record1','fields':[" fields "]}"
#define EMPTY_RECORD1                   RECORD1("")
#define EMPTY_RECORD2                   "{'type':'record','name':'Record2','fields':[]}"
#define F_A_INT                         "{'name':'a','type':'int'}"
#define F_A_DINT                        "{'name':'a','type':'int','default':0}"
#define F_B_INT                         "{'name':'b','type':'int'}"
#define F_B_DINT                        "{'name':'b','type':'int','default':0}"
#define A_INT_RECORD1                   RECORD1(F_A_INT)
#define A_LONG_RECORD1                  RECORD1("{'name':'a','type':'long'}")
#define A_INT_B_INT_RECORD1             RECORD1(F_A_INT "," F_B_INT)
#define A_DINT_RECORD1                  RECORD1(F_A_DINT)
#define A_INT_B_DINT_RECORD1            RECORD1(F_A_INT "," F_B_DINT)
#define A_DINT_B_DINT_RECORD1           RECORD1(F_A_DINT "," F_B_DINT)
#define FIXED_4_BYTES                   "{'type':'fixed','name':'Fixed','size':4}"
#define FIXED_8_BYTES                   "{'type':'fixed','name':'Fixed','size':8}"
#define A_DINT_B_DFIXED_4_BYTES_RECORD1 RECORD1(F_A_DINT ",{'name':'b','type':" FIXED_4_BYTES "}")
#define A_DINT_B_DFIXED_8_BYTES_RECORD1 RECORD1(F_A_DINT ",{'name':'b','type':" FIXED_8_BYTES "}")
#define A_DINT_B_DINT_STRING_UNION_RECORD1                                                         \
    RECORD1(F_A_DINT ",{'name':'b','type':['int','string'],'default':0}")
#define A_DINT_B_DINT_UNION_RECORD1 RECORD1(F_A_DINT ",{'name':'b','type':['int'],'default':0}")
#define A_DINT_B_DENUM_1_RECORD1    RECORD1(F_A_DINT ",{'name':'b','type':" ENUM1_AB "}")
#define A_DINT_B_DENUM_2_RECORD1    RECORD1(F_A_DINT ",{'name':'b','type':" ENUM2_AB "}")
#define INT_LIST_RECORD                                                                            \
    "{'type':'record','name':'List','fields':[{'name':'head','type':'int'},{'name':'tail',"        \
    "'type':'List'}]}"
#define LONG_LIST_RECORD                                                                           \
    "{'type':'record','name':'List','fields':[{'name':'head','type':'long'},{'name':'tail',"       \
    "'type':'List'}]}"
#define ENUM_RECORD(symbols, enum_default, field_default)                                          \
    "{'type':'record','name':'Record','fields':[{'name':'Field','type':{'type':'enum','name':"     \
    "'Schema','symbols':" symbols ",'default':'" enum_default "'}" field_default "}]}"
#define NS_RECORD(ns)                                                                              \
    RECORD1("{'name':'f1','type':['null',{'type':'array','items':{'type':'record','name':"         \
            "'InnerRecord1','namespace':'" ns "','fields':[{'name':'a','type':'int'}]}}]}")
#define RECORD1_WITH_INT RECORD1("{'name':'field1','type':'int'}")
#define RECORD2_WITH_INT                                                                           \
    "{'type':'record','name':'Record2','fields':[{'name':'field1','type':'int'}]}"

/* apache/avro TestSchemaCompatibility.java, COMPATIBLE_READER_WRITER_TEST_CASES (the Avro 1.11
 * list, with the enum-default records and NS_RECORD1/NS_RECORD2 of later versions), and the
 * testValidateSchemaPair* tests (WRITER_SCHEMA: oldfield1 int, oldfield2 string). */
static const pair_case_t avro_compatible[] = {
    {BOOLEAN_S, BOOLEAN_S, ""},
    {INT_S, INT_S, ""},
    {LONG_S, INT_S, ""},
    {LONG_S, LONG_S, ""},
    {FLOAT_S, INT_S, ""},
    {FLOAT_S, LONG_S, ""},
    {DOUBLE_S, LONG_S, ""},
    {DOUBLE_S, INT_S, ""},
    {DOUBLE_S, FLOAT_S, ""},
    {STRING_S, STRING_S, ""},
    {BYTES_S, BYTES_S, ""},
    {INT_ARRAY, INT_ARRAY, ""},
    {LONG_ARRAY, INT_ARRAY, ""},
    {INT_MAP, INT_MAP, ""},
    {LONG_MAP, INT_MAP, ""},
    {ENUM1_AB, ENUM1_AB, ""},
    {ENUM1_ABC, ENUM1_AB, ""},
    {STRING_S, BYTES_S, ""},
    {BYTES_S, STRING_S, ""},
    {EMPTY_UNION, EMPTY_UNION, ""},
    {FLOAT_UNION, EMPTY_UNION, ""},
    {INT_UNION, INT_UNION, ""},
    {INT_STRING_UNION, STRING_INT_UNION, ""},
    {INT_UNION, EMPTY_UNION, ""},
    {LONG_UNION, EMPTY_UNION, ""},
    {LONG_UNION, INT_UNION, ""},
    {DOUBLE_UNION, INT_UNION, ""},
    {DOUBLE_UNION, LONG_UNION, ""},
    {DOUBLE_UNION, FLOAT_UNION, ""},
    {DOUBLE_UNION, INT_FLOAT_UNION, ""},
    {STRING_UNION, EMPTY_UNION, ""},
    {STRING_UNION, BYTES_UNION, ""},
    {BYTES_UNION, EMPTY_UNION, ""},
    {BYTES_UNION, STRING_UNION, ""},
    {FLOAT_S, INT_FLOAT_UNION, ""},
    {LONG_S, INT_LONG_UNION, ""},
    {DOUBLE_S, INT_FLOAT_UNION, ""},
    {DOUBLE_S, INT_LONG_FLOAT_DOUBLE_UNION, ""},
    {FLOAT_S, FLOAT_UNION, ""},
    {INT_UNION, INT_S, ""},
    {INT_S, INT_UNION, ""},
    {FIXED_4_BYTES, FIXED_4_BYTES, ""},
    {EMPTY_RECORD1, EMPTY_RECORD1, ""},
    {EMPTY_RECORD1, A_INT_RECORD1, ""},
    {A_INT_RECORD1, A_INT_RECORD1, ""},
    {A_DINT_RECORD1, A_INT_RECORD1, ""},
    {A_DINT_RECORD1, A_DINT_RECORD1, ""},
    {A_INT_RECORD1, A_DINT_RECORD1, ""},
    {A_LONG_RECORD1, A_INT_RECORD1, ""},
    {A_INT_RECORD1, A_INT_B_INT_RECORD1, ""},
    {A_DINT_RECORD1, A_INT_B_INT_RECORD1, ""},
    {A_INT_B_DINT_RECORD1, A_INT_RECORD1, ""},
    {A_DINT_B_DINT_RECORD1, EMPTY_RECORD1, ""},
    {A_DINT_B_DINT_RECORD1, A_INT_RECORD1, ""},
    {A_INT_B_INT_RECORD1, A_DINT_B_DINT_RECORD1, ""},
    {INT_LIST_RECORD, INT_LIST_RECORD, ""},
    {LONG_LIST_RECORD, LONG_LIST_RECORD, ""},
    {LONG_LIST_RECORD, INT_LIST_RECORD, ""},
    {NULL_S, NULL_S, ""},
    {ENUM_RECORD("['A','B']", "A", ""), ENUM_RECORD("['A','B','C']", "A", ""), ""},
    {ENUM_RECORD("['A','B']", "B", ",'default':'A'"),
     ENUM_RECORD("['A','B','C']", "A", ",'default':'B'"), ""},
    /* Records with an inner array of records in other namespaces. */
    {NS_RECORD("ns1"), NS_RECORD("ns2"), ""},
    /* testValidateSchemaPairMissingField, ...MissingSecondField, ...AllFields,
     * ...NewFieldWithDefault; testValidateSchemaNewField. */
    {RECORD1("{'name':'oldfield1','type':'int'}"),
     RECORD1("{'name':'oldfield1','type':'int'},{'name':'oldfield2','type':'string'}"), ""},
    {RECORD1("{'name':'oldfield2','type':'string'}"),
     RECORD1("{'name':'oldfield1','type':'int'},{'name':'oldfield2','type':'string'}"), ""},
    {RECORD1("{'name':'oldfield1','type':'int'},{'name':'oldfield2','type':'string'}"),
     RECORD1("{'name':'oldfield1','type':'int'},{'name':'oldfield2','type':'string'}"), ""},
    {RECORD1("{'name':'oldfield1','type':'int'},{'name':'newfield1','type':'int','default':42}"),
     RECORD1("{'name':'oldfield1','type':'int'},{'name':'oldfield2','type':'string'}"), ""},
    {RECORD1("{'name':'oldfield1','type':'int'},{'name':'newfield1','type':'int'}"),
     RECORD1("{'name':'oldfield1','type':'int'},{'name':'oldfield2','type':'string'}"),
     "READER_FIELD_MISSING_DEFAULT_VALUE /fields/1: newfield1"},
    /* testValidateArrayWriterSchema, testValidatePrimitiveWriterSchema,
     * testUnionReaderWriterSubsetIncompatibility. */
    {STRING_ARRAY, STRING_ARRAY, ""},
    {STRING_MAP, STRING_ARRAY,
     "TYPE_MISMATCH /: reader type: MAP not compatible with writer type: "
     "ARRAY"},
    {INT_S, STRING_S, "TYPE_MISMATCH /: reader type: INT not compatible with writer type: STRING"},
    {"['int','string']", "['int','string','long']",
     "MISSING_UNION_BRANCH /2: reader union lacking writer type: LONG"},
};

/* apache/avro TestSchemaCompatibilityTypeMismatch.java (Karapace's
 * test_schema_compatibility_type_mismatch has the same rows). */
static const pair_case_t avro_type_mismatch[] = {
#define TM(r, w, rt, wt, loc)                                                                      \
    {                                                                                              \
        r, w, "TYPE_MISMATCH " loc ": reader type: " rt " not compatible with writer type: " wt    \
    }
    TM(NULL_S, INT_S, "NULL", "INT", "/"),
    TM(NULL_S, LONG_S, "NULL", "LONG", "/"),
    TM(BOOLEAN_S, INT_S, "BOOLEAN", "INT", "/"),
    TM(INT_S, NULL_S, "INT", "NULL", "/"),
    TM(INT_S, BOOLEAN_S, "INT", "BOOLEAN", "/"),
    TM(INT_S, LONG_S, "INT", "LONG", "/"),
    TM(INT_S, FLOAT_S, "INT", "FLOAT", "/"),
    TM(INT_S, DOUBLE_S, "INT", "DOUBLE", "/"),
    TM(LONG_S, FLOAT_S, "LONG", "FLOAT", "/"),
    TM(LONG_S, DOUBLE_S, "LONG", "DOUBLE", "/"),
    TM(FLOAT_S, DOUBLE_S, "FLOAT", "DOUBLE", "/"),
    TM(DOUBLE_S, STRING_S, "DOUBLE", "STRING", "/"),
    TM(FIXED_4_BYTES, STRING_S, "FIXED", "STRING", "/"),
    TM(STRING_S, BOOLEAN_S, "STRING", "BOOLEAN", "/"),
    TM(STRING_S, INT_S, "STRING", "INT", "/"),
    TM(BYTES_S, NULL_S, "BYTES", "NULL", "/"),
    TM(BYTES_S, INT_S, "BYTES", "INT", "/"),
    TM(A_INT_RECORD1, INT_S, "RECORD", "INT", "/"),
    TM(INT_ARRAY, LONG_ARRAY, "INT", "LONG", "/items"),
    TM(INT_MAP, INT_ARRAY, "MAP", "ARRAY", "/"),
    TM(INT_ARRAY, INT_MAP, "ARRAY", "MAP", "/"),
    TM(INT_MAP, LONG_MAP, "INT", "LONG", "/values"),
    TM(INT_S, ENUM2_AB, "INT", "ENUM", "/"),
    TM(ENUM2_AB, INT_S, "ENUM", "INT", "/"),
    TM(FLOAT_S, INT_LONG_FLOAT_DOUBLE_UNION, "FLOAT", "DOUBLE", "/"),
    TM(LONG_S, INT_FLOAT_UNION, "LONG", "FLOAT", "/"),
    TM(INT_S, INT_FLOAT_UNION, "INT", "FLOAT", "/"),
    TM(INT_LIST_RECORD, LONG_LIST_RECORD, "INT", "LONG", "/fields/0/type"),
#undef TM
};

/* apache/avro TestSchemaCompatibilityMissingUnionBranch.java (and Karapace's
 * test_schema_compatibility_missing_union_branch). */
static const pair_case_t avro_missing_union_branch[] = {
#define MU(r, w, wt, loc)                                                                          \
    {                                                                                              \
        r, w, "MISSING_UNION_BRANCH " loc ": reader union lacking writer type: " wt                \
    }
    MU(INT_UNION, INT_STRING_UNION, "STRING", "/1"),
    MU(STRING_UNION, INT_STRING_UNION, "INT", "/0"),
    MU(INT_UNION, "['int'," RECORD1_WITH_INT "]", "RECORD", "/1"),
    MU(INT_UNION, "['int'," RECORD2_WITH_INT "]", "RECORD", "/1"),
    MU("['int'," RECORD1_WITH_INT "]", "['int'," RECORD2_WITH_INT "]", "RECORD", "/1"),
    MU(INT_UNION, "['int'," ENUM1_AB "]", "ENUM", "/1"),
    MU(INT_UNION, "['int'," FIXED_4_BYTES "]", "FIXED", "/1"),
    MU(INT_UNION, "['int','boolean']", "BOOLEAN", "/1"),
    MU(INT_UNION, LONG_UNION, "LONG", "/0"),
    MU(INT_UNION, FLOAT_UNION, "FLOAT", "/0"),
    MU(INT_UNION, DOUBLE_UNION, "DOUBLE", "/0"),
    MU(INT_UNION, BYTES_UNION, "BYTES", "/0"),
    MU(INT_UNION, "['int'," INT_ARRAY "]", "ARRAY", "/1"),
    MU(INT_UNION, "['int'," INT_MAP "]", "MAP", "/1"),
    MU(INT_UNION, "['int','null']", "NULL", "/1"),
    {INT_UNION, INT_LONG_FLOAT_DOUBLE_UNION,
     "MISSING_UNION_BRANCH /1: reader union lacking writer type: LONG; MISSING_UNION_BRANCH /2: "
     "reader union lacking writer type: FLOAT; MISSING_UNION_BRANCH /3: reader union lacking "
     "writer type: DOUBLE"},
    MU(A_DINT_B_DINT_UNION_RECORD1, A_DINT_B_DINT_STRING_UNION_RECORD1, "STRING",
       "/fields/1/type/1"),
#undef MU
};

/* apache/avro TestSchemaCompatibilityNameMismatch.java and Karapace's
 * test_schema_compatibility_name_mismatch. Avro since 1.10 (Confluent's) compares unqualified
 * names, so the old FIXED_4_NAMESPACE_V1/V2 row of that file is compatible now; aliases. */
static const pair_case_t avro_name_mismatch[] = {
    {ENUM1_AB, ENUM2_AB, "NAME_MISMATCH /name: expected: Enum2"},
    {EMPTY_RECORD2, EMPTY_RECORD1, "NAME_MISMATCH /name: expected: Record1"},
    {FIXED_4_BYTES, "{'type':'fixed','name':'AnotherName','size':4}",
     "NAME_MISMATCH /name: expected: AnotherName"},
    {A_DINT_B_DENUM_1_RECORD1, A_DINT_B_DENUM_2_RECORD1,
     "NAME_MISMATCH /fields/1/type/name: expected: Enum2"},
    {"{'type':'fixed','name':'Fixed','namespace':'org.apache.avro.tests.v_1_0','size':4}",
     "{'type':'fixed','name':'Fixed','namespace':'org.apache.avro.tests.v_2_0','size':4}", ""},
    /* A reader alias naming the writer's full name (specification, "Aliases"). */
    {"{'type':'record','name':'New','aliases':['Record1'],'fields':[]}", EMPTY_RECORD1, ""},
    {"{'type':'record','name':'New','namespace':'n','aliases':['Record1'],'fields':[]}",
     EMPTY_RECORD1, "NAME_MISMATCH /name: expected: Record1"},
    {"{'type':'record','name':'New','namespace':'n','aliases':['o.Old'],'fields':[]}",
     "{'type':'record','name':'Old','namespace':'o','fields':[]}", ""},
    {"{'type':'enum','name':'E2','aliases':['E1'],'symbols':['A']}",
     "{'type':'enum','name':'E1','symbols':['A']}", ""},
    {"{'type':'fixed','name':'F2','aliases':['F1'],'size':4}",
     "{'type':'fixed','name':'F1','size':4}", ""},
    /* A writer alias does not count: aliases are the reader's. */
    {"{'type':'enum','name':'E1','symbols':['A']}",
     "{'type':'enum','name':'E2','aliases':['E1'],'symbols':['A']}",
     "NAME_MISMATCH /name: expected: E2"},
};

/* apache/avro TestSchemaCompatibilityFixedSizeMismatch.java and Karapace's
 * test_schema_compatibility_fixed_size_mismatch. */
static const pair_case_t avro_fixed_size[] = {
    {FIXED_4_BYTES, FIXED_8_BYTES, "FIXED_SIZE_MISMATCH /size: expected: 8, found: 4"},
    {FIXED_8_BYTES, FIXED_4_BYTES, "FIXED_SIZE_MISMATCH /size: expected: 4, found: 8"},
    {A_DINT_B_DFIXED_8_BYTES_RECORD1, A_DINT_B_DFIXED_4_BYTES_RECORD1,
     "FIXED_SIZE_MISMATCH /fields/1/type/size: expected: 4, found: 8"},
    {A_DINT_B_DFIXED_4_BYTES_RECORD1, A_DINT_B_DFIXED_8_BYTES_RECORD1,
     "FIXED_SIZE_MISMATCH /fields/1/type/size: expected: 8, found: 4"},
    /* Name and size both wrong: both reported, name first. */
    {FIXED_4_BYTES, "{'type':'fixed','name':'Other','size':8}",
     "NAME_MISMATCH /name: expected: Other; FIXED_SIZE_MISMATCH /size: expected: 8, found: 4"},
};

/* apache/avro TestSchemaCompatibilityMissingEnumSymbols.java and Karapace's
 * test_schema_compatibility_missing_enum_symbols; enum defaults from
 * TestSchemaCompatibilityEnumDefaults.java (a reader enum default reads unknown symbols,
 * a field default does not). */
static const pair_case_t avro_enum_symbols[] = {
    {ENUM1_AB, ENUM1_ABC, "MISSING_ENUM_SYMBOLS /symbols: [C]"},
    {ENUM1_BC, ENUM1_ABC, "MISSING_ENUM_SYMBOLS /symbols: [A]"},
    {RECORD1("{'name':'field1','type':" ENUM1_AB "}"),
     RECORD1("{'name':'field1','type':" ENUM1_ABC "}"),
     "MISSING_ENUM_SYMBOLS /fields/0/type/symbols: [C]"},
    {"{'type':'enum','name':'Enum1','symbols':['A']}",
     "{'type':'enum','name':'Enum1','symbols':['D','A','C','B']}",
     "MISSING_ENUM_SYMBOLS /symbols: [B, C, D]"},
    /* enumDefaultAppliedWhenNoFieldDefaultDefined: [A,B] default A reads C. */
    {ENUM_RECORD("['A','B']", "A", ""), ENUM_RECORD("['A','B','C']", "A", ""), ""},
    {"{'type':'enum','name':'Enum1','symbols':['A','B'],'default':'A'}", ENUM1_ABC, ""},
    /* fieldDefaultNotAppliedForUnknownSymbol: a field default is no enum default. */
    {RECORD1("{'name':'field1','type':" ENUM1_AB ",'default':'A'}"),
     RECORD1("{'name':'field1','type':" ENUM1_ABC "}"),
     "MISSING_ENUM_SYMBOLS /fields/0/type/symbols: [C]"},
    /* enumDefaultNotAppliedWhenWriterFieldMissing: an enum default is no field default. */
    {"{'type':'record','name':'Record1','fields':[{'name':'field1','type':{'type':'enum','name':"
     "'Enum','symbols':['A','B'],'default':'A'}}]}",
     "{'type':'record','name':'Record1','fields':[{'name':'field2','type':" ENUM2_AB "}]}",
     "READER_FIELD_MISSING_DEFAULT_VALUE /fields/0: field1"},
    /* Removing a symbol the writer never had is fine; the reader may add symbols. */
    {ENUM1_ABC, ENUM1_BC, ""},
};

/* apache/avro TestSchemaCompatibilityReaderFieldMissingDefaultValue.java and Karapace's
 * test_schema_compatibility_reader_field_missing_default_value; reader field aliases
 * (specification "Aliases"; Karapace test_simple_schema_promotion). */
static const pair_case_t avro_missing_default[] = {
    {A_INT_RECORD1, EMPTY_RECORD1, "READER_FIELD_MISSING_DEFAULT_VALUE /fields/0: a"},
    {A_INT_B_DINT_RECORD1, EMPTY_RECORD1, "READER_FIELD_MISSING_DEFAULT_VALUE /fields/0: a"},
    {A_INT_B_INT_RECORD1, EMPTY_RECORD1,
     "READER_FIELD_MISSING_DEFAULT_VALUE /fields/0: a; READER_FIELD_MISSING_DEFAULT_VALUE "
     "/fields/1: b"},
    {"{'name':'foo','type':'record','fields':[{'type':'int','name':'bar','aliases':['f1']}]}",
     "{'name':'foo','type':'record','fields':[{'type':'int','name':'f1'},{'type':'string',"
     "'name':'f2'}]}",
     ""},
    {"{'name':'other','type':'record','aliases':['foo'],'fields':[{'type':'int','name':'f1'}]}",
     "{'name':'foo','type':'record','fields':[{'type':'int','name':'f1'},{'type':'string',"
     "'name':'f2'}]}",
     ""},
    {"{'name':'foo','type':'record','fields':[{'type':'int','name':'f1'}]}",
     "{'name':'foo','type':'record','fields':[{'type':'int','name':'f1'},{'type':'string',"
     "'name':'f2'}]}",
     ""},
    {"{'name':'foo','type':'record','fields':[{'type':'int','name':'f1'},{'type':'string',"
     "'name':'f2'}]}",
     "{'name':'foo','type':'record','fields':[{'type':'int','name':'f1'}]}",
     "READER_FIELD_MISSING_DEFAULT_VALUE /fields/1: f2"},
    /* An alias finds the writer field, whose type is then checked. */
    {"{'name':'foo','type':'record','fields':[{'type':'int','name':'bar','aliases':['f1']}]}",
     "{'name':'foo','type':'record','fields':[{'type':'string','name':'f1'}]}",
     "TYPE_MISMATCH /fields/0/type: reader type: INT not compatible with writer type: STRING"},
    /* A writer field alias does not count. */
    {"{'name':'foo','type':'record','fields':[{'type':'int','name':'f1'}]}",
     "{'name':'foo','type':'record','fields':[{'type':'int','name':'bar','aliases':['f1']}]}",
     "READER_FIELD_MISSING_DEFAULT_VALUE /fields/0: f1"},
};

/* Karapace test_union_to_simple_comparison: a field made a union with null reads the old. */
static const pair_case_t karapace_union_to_simple[] = {
#define U2S(t)                                                                                     \
    {                                                                                              \
        "{'type':'record','name':'name','namespace':'namespace','fields':[{'type':['null'," t      \
        "],'name':'fn'}]}",                                                                        \
            "{'type':'record','name':'name','namespace':'namespace','fields':[{'type':" t          \
            ",'name':"                                                                             \
            "'fn'}]}",                                                                             \
            ""                                                                                     \
    }
    U2S("{'type':'array','items':'string','name':'fn'}"),
    U2S("{'type':'record','name':'fn','fields':[{'type':'string','name':'inner_rec'}]}"),
    U2S("{'type':'enum','name':'fn','symbols':['foo','bar','baz']}"),
    U2S("{'type':'fixed','size':16,'name':'fn','aliases':['testalias']}"),
    U2S("'string'"),
    U2S("{'type':'map','values':'int','name':'fn'}"),
#undef U2S
};

/* The specification's "Schema Resolution" rules one by one, with cases of our own: nested and
 * recursive records, unions on either side, promotions inside containers, logical types
 * ignored (as Confluent does), several issues in one schema. */
static const pair_case_t spec_rules[] = {
    /* "if both are records: ... the ordering of fields may be different". */
    {RECORD1(F_B_INT "," F_A_INT), A_INT_B_INT_RECORD1, ""},
    /* Nested records: the path goes through. */
    {RECORD1("{'name':'in','type':{'type':'record','name':'In','fields':[{'name':'x','type':"
             "'int'},{'name':'y','type':'string'}]}}"),
     RECORD1("{'name':'in','type':{'type':'record','name':'In','fields':[{'name':'x','type':"
             "'string'}]}}"),
     "TYPE_MISMATCH /fields/0/type/fields/0/type: reader type: INT not compatible with writer "
     "type: STRING; READER_FIELD_MISSING_DEFAULT_VALUE /fields/0/type/fields/1: y"},
    /* A recursive record whose recursion is compatible, through a union. */
    {"{'type':'record','name':'Node','fields':[{'name':'v','type':'long'},{'name':'next','type':"
     "['null','Node'],'default':null},{'name':'extra','type':'int','default':1}]}",
     "{'type':'record','name':'Node','fields':[{'name':'v','type':'int'},{'name':'next','type':"
     "['null','Node']}]}",
     ""},
    /* ... and one that is not: the issue is found once, at the first level. */
    {"{'type':'record','name':'Node','fields':[{'name':'v','type':'int'},{'name':'next','type':"
     "['null','Node']}]}",
     "{'type':'record','name':'Node','fields':[{'name':'v','type':'long'},{'name':'next','type':"
     "['null','Node']}]}",
     "TYPE_MISMATCH /fields/0/type: reader type: INT not compatible with writer type: LONG"},
    /* Mutually recursive records. */
    {"{'type':'record','name':'A','fields':[{'name':'b','type':['null',{'type':'record','name':"
     "'B','fields':[{'name':'a','type':['null','A']},{'name':'n','type':'long'}]}]}]}",
     "{'type':'record','name':'A','fields':[{'name':'b','type':['null',{'type':'record','name':"
     "'B','fields':[{'name':'a','type':['null','A']},{'name':'n','type':'int'}]}]}]}",
     ""},
    /* "if reader's is a union, but writer's is not: the first schema in the reader's union
     * that matches the writer's schema is recursively resolved against it". */
    {"['null','long']", INT_S, ""},
    {"['null','string']", INT_S, "MISSING_UNION_BRANCH /: reader union lacking writer type: INT"},
    {"['null'," ENUM1_ABC "]", ENUM1_AB, ""},
    {"['null'," ENUM1_AB "]", ENUM1_ABC,
     "MISSING_UNION_BRANCH /: reader union lacking writer type: ENUM"},
    /* "if writer's is a union, but reader's is not: if the reader's schema matches the
     * selected writer's schema, it is recursively resolved against it". */
    {LONG_S, "['int','long']", ""},
    {STRING_S, "['null','string']",
     "TYPE_MISMATCH /: reader type: STRING not compatible with writer type: NULL"},
    /* Both unions: each writer branch needs a reader branch; order is free. */
    {"['null','string','int']", "['int','null']", ""},
    {"['null',{'type':'array','items':'long'}]", "['null'," INT_ARRAY "]", ""},
    {"['null'," INT_ARRAY "]", "['null'," LONG_ARRAY "]",
     "MISSING_UNION_BRANCH /1: reader union lacking writer type: ARRAY"},
    /* Promotions inside arrays and maps, string and bytes inside records. */
    {"{'type':'array','items':'double'}", INT_ARRAY, ""},
    {"{'type':'map','values':'bytes'}", STRING_MAP, ""},
    {RECORD1("{'name':'s','type':'bytes'}"), RECORD1("{'name':'s','type':'string'}"), ""},
    {"{'type':'array','items':{'type':'map','values':'long'}}",
     "{'type':'array','items':{'type':'map','values':'double'}}",
     "TYPE_MISMATCH /items/values: reader type: LONG not compatible with writer type: DOUBLE"},
    /* Logical types are ignored: only the underlying types count (Confluent). */
    {"{'type':'long','logicalType':'timestamp-micros'}",
     "{'type':'long','logicalType':'timestamp-millis'}", ""},
    {"{'type':'bytes','logicalType':'decimal','precision':9,'scale':2}",
     "{'type':'bytes','logicalType':'decimal','precision':4,'scale':1}", ""},
    {"{'type':'string','logicalType':'uuid'}", STRING_S, ""},
    {"{'type':'int','logicalType':'date'}", "{'type':'long','logicalType':'timestamp-millis'}",
     "TYPE_MISMATCH /: reader type: INT not compatible with writer type: LONG"},
    /* Every kind in one schema, in field order. */
    {"{'type':'record','name':'R','fields':[{'name':'a','type':'int'},{'name':'b','type':"
     "{'type':'enum','name':'E','symbols':['X']}},{'name':'c','type':{'type':'fixed','name':'F',"
     "'size':2}},{'name':'d','type':['null','int']},{'name':'e','type':'string'}]}",
     "{'type':'record','name':'R','fields':[{'name':'a','type':'long'},{'name':'b','type':"
     "{'type':'enum','name':'E','symbols':['X','Y']}},{'name':'c','type':{'type':'fixed','name':"
     "'G','size':3}},{'name':'d','type':['null','int','string']}]}",
     "TYPE_MISMATCH /fields/0/type: reader type: INT not compatible with writer type: LONG; "
     "MISSING_ENUM_SYMBOLS /fields/1/type/symbols: [Y]; NAME_MISMATCH /fields/2/type/name: "
     "expected: G; FIXED_SIZE_MISMATCH /fields/2/type/size: expected: 3, found: 2; "
     "MISSING_UNION_BRANCH /fields/3/type/2: reader union lacking writer type: STRING; "
     "READER_FIELD_MISSING_DEFAULT_VALUE /fields/4: e"},
};

static void test_avro_pairs(void **state)
{
    pairs_checked = 0;
    RUN(avro_compatible);
    RUN(avro_type_mismatch);
    RUN(avro_missing_union_branch);
    RUN(avro_name_mismatch);
    RUN(avro_fixed_size);
    RUN(avro_enum_symbols);
    RUN(avro_missing_default);
    RUN(karapace_union_to_simple);
    RUN(spec_rules);
    print_message("%zu reader/writer pairs\n", pairs_checked);
    assert_true(pairs_checked > 150);
}

/* ---- Confluent's levels ---- */

/* confluentinc/schema-registry AvroCompatibilityTest.java: schema1..schema8. */
static const char *const confluent_schemas[] = {
    NULL,
    /* 1 */ "{'type':'record','name':'myrecord','fields':[{'type':'string','name':'f1'}]}",
    /* 2 */
    "{'type':'record','name':'myrecord','fields':[{'type':'string','name':'f1'},{'type':'string',"
    "'name':'f2','default':'foo'}]}",
    /* 3 */
    "{'type':'record','name':'myrecord','fields':[{'type':'string','name':'f1'},{'type':'string',"
    "'name':'f2'}]}",
    /* 4 */
    "{'type':'record','name':'myrecord','fields':[{'type':'string','name':'f1_new','aliases':"
    "['f1']}]}",
    /* 5: none in the source */ NULL,
    /* 6 */
    "{'type':'record','name':'myrecord','fields':[{'type':['null','string'],'name':'f1','doc':"
    "'doc of f1'}]}",
    /* 7 */
    "{'type':'record','name':'myrecord','fields':[{'type':['null','string','int'],'name':'f1',"
    "'doc':'doc of f1'}]}",
    /* 8 */
    "{'type':'record','name':'myrecord','fields':[{'type':'string','name':'f1'},{'type':'string',"
    "'name':'f2','default':'foo'},{'type':'string','name':'f3','default':'bar'}]}",
};

typedef struct {
    rill_compat_level_t level;
    int new_schema;
    int previous[3]; /* oldest first, 0-terminated */
    bool compatible;
} level_case_t;

/* AvroCompatibilityTest.java: testBasicBackwardsCompatibility, ...BackwardsTransitive...,
 * ...ForwardsCompatibility, ...ForwardsTransitive..., ...FullCompatibility,
 * ...FullTransitiveCompatibility, row by row (Karapace's test_schemaregistry_basic_* tests
 * port the same). */
static const level_case_t confluent_levels[] = {
    {RILL_COMPAT_BACKWARD, 2, {1}, true},
    {RILL_COMPAT_BACKWARD, 3, {1}, false},
    {RILL_COMPAT_BACKWARD, 4, {1}, true},
    {RILL_COMPAT_BACKWARD, 6, {1}, true},
    {RILL_COMPAT_BACKWARD, 1, {6}, false},
    {RILL_COMPAT_BACKWARD, 7, {6}, true},
    {RILL_COMPAT_BACKWARD, 6, {7}, false},
    {RILL_COMPAT_BACKWARD, 3, {1, 2}, true}, /* only the latest, 2, is checked */
    {RILL_COMPAT_BACKWARD_TRANSITIVE, 8, {1, 2}, true},
    {RILL_COMPAT_BACKWARD_TRANSITIVE, 2, {1}, true},
    {RILL_COMPAT_BACKWARD_TRANSITIVE, 3, {2}, true},
    {RILL_COMPAT_BACKWARD_TRANSITIVE, 3, {2, 1}, false},
    {RILL_COMPAT_FORWARD, 2, {1}, true},
    {RILL_COMPAT_FORWARD, 3, {1}, true},
    {RILL_COMPAT_FORWARD, 3, {2}, true},
    {RILL_COMPAT_FORWARD, 2, {3}, true},
    {RILL_COMPAT_FORWARD, 1, {3, 2}, true}, /* only 2 is checked */
    {RILL_COMPAT_FORWARD_TRANSITIVE, 1, {8, 2}, true},
    {RILL_COMPAT_FORWARD_TRANSITIVE, 2, {3}, true},
    {RILL_COMPAT_FORWARD_TRANSITIVE, 1, {2}, true},
    {RILL_COMPAT_FORWARD_TRANSITIVE, 1, {2, 3}, false},
    {RILL_COMPAT_FULL, 2, {1}, true},
    {RILL_COMPAT_FULL, 3, {1, 2}, true}, /* only 2 is checked */
    {RILL_COMPAT_FULL, 1, {3, 2}, true}, /* only 2 is checked */
    {RILL_COMPAT_FULL_TRANSITIVE, 8, {1, 2}, true},
    {RILL_COMPAT_FULL_TRANSITIVE, 1, {8, 2}, true},
    {RILL_COMPAT_FULL_TRANSITIVE, 2, {3}, true},
    {RILL_COMPAT_FULL_TRANSITIVE, 1, {2}, true},
    {RILL_COMPAT_FULL_TRANSITIVE, 2, {1}, true},
    {RILL_COMPAT_FULL_TRANSITIVE, 3, {2}, true},
    {RILL_COMPAT_FULL_TRANSITIVE, 3, {2, 1}, false},
    {RILL_COMPAT_FULL_TRANSITIVE, 1, {2, 3}, false},
    /* NONE accepts anything; no previous version is compatible at every level. */
    {RILL_COMPAT_NONE, 3, {1}, true},
    {RILL_COMPAT_NONE, 1, {6, 7}, true},
    {RILL_COMPAT_FULL_TRANSITIVE, 3, {0}, true},
    {RILL_COMPAT_BACKWARD, 3, {0}, true},
    /* FULL fails in either direction. */
    {RILL_COMPAT_FULL, 3, {1}, false}, /* backward fails: f2 has no default */
    {RILL_COMPAT_FULL, 1, {3}, false}, /* forward fails: 3 reads 1 without f2 */
    {RILL_COMPAT_FORWARD, 1, {6}, true},
    {RILL_COMPAT_FORWARD, 6, {1}, false},
};

static rill_compat_result_t *check_level(rill_compat_level_t level, rill_avro_schema_t *new_schema,
                                         rill_avro_schema_t **previous, size_t count)
{
    rill_compat_result_t *result = NULL;
    assert_int_equal(rill_compat_check_avro(level, new_schema,
                                            (const rill_avro_schema_t *const *)previous, count,
                                            &result),
                     0);
    return result;
}

static void test_confluent_levels(void **state)
{
    rill_avro_schema_t *schemas[9] = {0};
    for (int i = 1; i <= 8; i++)
        if (confluent_schemas[i])
            schemas[i] = parse(confluent_schemas[i]);
    for (size_t i = 0; i < sizeof confluent_levels / sizeof confluent_levels[0]; i++) {
        const level_case_t *c = &confluent_levels[i];
        rill_avro_schema_t *previous[3];
        size_t count = 0;
        while (count < 3 && c->previous[count])
            previous[count] = schemas[c->previous[count]], count++;
        rill_compat_result_t *result =
            check_level(c->level, schemas[c->new_schema], previous, count);
        if ((rill_compat_result_count(result) == 0) != c->compatible)
            fail_msg("case %zu: %s of schema%d: %zu issues", i, rill_compat_level_name(c->level),
                     c->new_schema, rill_compat_result_count(result));
        rill_compat_result_destroy(result);
    }
    for (int i = 1; i <= 8; i++)
        rill_avro_schema_unref(schemas[i]);
}

/* A chain of three versions where each step passes and the transitive check fails, at every
 * transitive level; the issue names the version it fails against and the direction. */
static void test_transitive_chain(void **state)
{
    /* v1 {f1}; v2 {f1, f2 default}; v3 {f1, f2 no default}: BACKWARD v3 vs v2 passes (v2 data
     * has f2), BACKWARD_TRANSITIVE fails against v1 (no f2, no default). */
    rill_avro_schema_t *v[3] = {parse(confluent_schemas[1]), parse(confluent_schemas[2]),
                                parse(confluent_schemas[3])};
    rill_compat_result_t *result = check_level(RILL_COMPAT_BACKWARD, v[2], v, 2);
    assert_int_equal(rill_compat_result_count(result), 0);
    rill_compat_result_destroy(result);
    result = check_level(RILL_COMPAT_BACKWARD_TRANSITIVE, v[2], v, 2);
    assert_int_equal(rill_compat_result_count(result), 1);
    const rill_compat_issue_t *issue = rill_compat_result_at(result, 0);
    assert_int_equal(issue->kind, RILL_AVRO_READER_FIELD_MISSING_DEFAULT_VALUE);
    assert_int_equal(issue->previous_index, 0);
    assert_true(issue->new_is_reader);
    assert_string_equal(issue->path, "/fields/1");
    assert_string_equal(issue->message,
                        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field "
                        "'f2' at path '/fields/1' in the new schema has no default value and is "
                        "missing in the old schema', additionalInfo:'f2'}");
    assert_null(rill_compat_result_at(result, 1));
    rill_compat_result_destroy(result);
    result = check_level(RILL_COMPAT_FULL_TRANSITIVE, v[2], v, 2);
    assert_int_equal(rill_compat_result_count(result), 1);
    rill_compat_result_destroy(result);

    /* Forward: versions v3, v2, then v1 new. FORWARD passes (v2 reads v1: f2 has a default);
     * FORWARD_TRANSITIVE fails: v3 cannot read v1. */
    rill_avro_schema_t *fwd[2] = {v[2], v[1]};
    result = check_level(RILL_COMPAT_FORWARD, v[0], fwd, 2);
    assert_int_equal(rill_compat_result_count(result), 0);
    rill_compat_result_destroy(result);
    result = check_level(RILL_COMPAT_FORWARD_TRANSITIVE, v[0], fwd, 2);
    assert_int_equal(rill_compat_result_count(result), 1);
    issue = rill_compat_result_at(result, 0);
    assert_int_equal(issue->previous_index, 0);
    assert_false(issue->new_is_reader);
    assert_string_equal(issue->message,
                        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field "
                        "'f2' at path '/fields/1' in the old schema has no default value and is "
                        "missing in the new schema', additionalInfo:'f2'}");
    rill_compat_result_destroy(result);
    result = check_level(RILL_COMPAT_FULL, v[0], fwd, 2);
    assert_int_equal(rill_compat_result_count(result), 0);
    rill_compat_result_destroy(result);
    result = check_level(RILL_COMPAT_FULL_TRANSITIVE, v[0], fwd, 2);
    assert_int_equal(rill_compat_result_count(result), 1);
    rill_compat_result_destroy(result);

    /* Enum symbols across three versions: each drop is covered by the step before... until
     * the transitive check sees v1's symbol. v1 [A,B,C]; v2 [A,B,C] default A; v3 [A,B]. */
    rill_avro_schema_t *e[3] = {
        parse("{'type':'enum','name':'E','symbols':['A','B','C']}"),
        parse("{'type':'enum','name':'E','symbols':['A','B','C','D'],'default':'A'}"),
        parse("{'type':'enum','name':'E','symbols':['A','B','C','D']}"),
    };
    /* FORWARD: the old reads the new. v2 (default) reads v3: fine. v1 reads v3: D missing. */
    result = check_level(RILL_COMPAT_FORWARD, e[2], e, 2);
    assert_int_equal(rill_compat_result_count(result), 0);
    rill_compat_result_destroy(result);
    result = check_level(RILL_COMPAT_FORWARD_TRANSITIVE, e[2], e, 2);
    char got[1024];
    render(result, got, sizeof got);
    assert_string_equal(got, "MISSING_ENUM_SYMBOLS /symbols: [D]");
    rill_compat_result_destroy(result);
    for (int i = 0; i < 3; i++) {
        rill_avro_schema_unref(v[i]);
        rill_avro_schema_unref(e[i]);
    }
}

/* Schemas with references are checked through the referenced types: the subject's v2 refers to
 * a newer version of the referenced subject, whose added field has no default. */
static void test_references(void **state)
{
    char addr1[512], addr2[512], user[512];
    q("{'type':'record','name':'Address','namespace':'com.acme','fields':[{'name':'city','type':"
      "'string'}]}",
      addr1, sizeof addr1);
    q("{'type':'record','name':'Address','namespace':'com.acme','fields':[{'name':'city','type':"
      "'string'},{'name':'zip','type':'string'}]}",
      addr2, sizeof addr2);
    q("{'type':'record','name':'User','namespace':'com.acme','fields':[{'name':'home','type':"
      "'Address'}]}",
      user, sizeof user);
    const char *refs1[] = {addr1}, *refs2[] = {addr2};
    rill_avro_parse_opts_t o1 = {.refs = refs1, .ref_count = 1},
                           o2 = {.refs = refs2, .ref_count = 1};
    char err[256];
    rill_avro_schema_t *v1 = rill_avro_schema_parse(user, strlen(user), &o1, err, sizeof err);
    rill_avro_schema_t *v2 = rill_avro_schema_parse(user, strlen(user), &o2, err, sizeof err);
    assert_non_null(v1);
    assert_non_null(v2);
    /* The same text and the same normalized form (the referenced types are named)... */
    assert_string_equal(rill_avro_schema_normalized(v1), rill_avro_schema_normalized(v2));
    /* ...but not the same canonical form, nor the same compatibility. */
    assert_string_not_equal(rill_avro_schema_canonical(v1), rill_avro_schema_canonical(v2));
    const rill_avro_schema_t *previous[] = {v1};
    rill_compat_result_t *result = NULL;
    assert_int_equal(rill_compat_check_avro(RILL_COMPAT_BACKWARD, v2, previous, 1, &result), 0);
    char got[1024];
    render(result, got, sizeof got);
    assert_string_equal(got, "READER_FIELD_MISSING_DEFAULT_VALUE /fields/0/type/fields/1: zip");
    rill_compat_result_destroy(result);
    assert_int_equal(rill_compat_check_avro(RILL_COMPAT_FORWARD, v2, previous, 1, &result), 0);
    assert_int_equal(rill_compat_result_count(result), 0);
    rill_compat_result_destroy(result);
    rill_avro_schema_unref(v1);
    rill_avro_schema_unref(v2);
}

/* The verbose messages, one of each kind, worded reader/writer for a pair check. */
static void test_messages(void **state)
{
    static const struct {
        const char *reader, *writer, *message;
    } cases[] = {
        {INT_S, LONG_S,
         "{errorType:'TYPE_MISMATCH', description:'The type at path '/' in the reader schema does "
         "not match the writer schema's', additionalInfo:'reader type: INT not compatible with "
         "writer type: LONG'}"},
        {ENUM1_AB, ENUM1_ABC,
         "{errorType:'MISSING_ENUM_SYMBOLS', description:'The reader schema lacks the enum "
         "symbols [C] of the writer schema at path '/symbols' and its enum has no default', "
         "additionalInfo:'[C]'}"},
        {INT_UNION, INT_STRING_UNION,
         "{errorType:'MISSING_UNION_BRANCH', description:'The reader schema's union at path '/1' "
         "has no branch that reads a type of the writer schema', additionalInfo:'reader union "
         "lacking writer type: STRING'}"},
        {ENUM1_AB, ENUM2_AB,
         "{errorType:'NAME_MISMATCH', description:'The name at path '/name' in the reader schema "
         "matches neither the name nor an alias of the writer schema's type', "
         "additionalInfo:'expected: Enum2'}"},
        {FIXED_4_BYTES, FIXED_8_BYTES,
         "{errorType:'FIXED_SIZE_MISMATCH', description:'The size of the fixed type at path "
         "'/size' differs between the reader and the writer schema', additionalInfo:'expected: "
         "8, found: 4'}"},
        {A_INT_RECORD1, EMPTY_RECORD1,
         "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'a' at path "
         "'/fields/0' in the reader schema has no default value and is missing in the writer "
         "schema', additionalInfo:'a'}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rill_avro_schema_t *r = parse(cases[i].reader), *w = parse(cases[i].writer);
        rill_compat_result_t *result = NULL;
        assert_int_equal(rill_avro_compatible(r, w, &result), 0);
        assert_int_equal(rill_compat_result_count(result), 1);
        assert_string_equal(rill_compat_result_at(result, 0)->message, cases[i].message);
        assert_int_equal(rill_compat_result_at(result, 0)->previous_index, 0);
        rill_compat_result_destroy(result);
        rill_avro_schema_unref(r);
        rill_avro_schema_unref(w);
    }
}

static void test_levels_and_arguments(void **state)
{
    static const char *const names[] = {
        "NONE", "BACKWARD",       "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
        "FULL", "FULL_TRANSITIVE"};
    for (int i = 0; i < 7; i++) {
        rill_compat_level_t level;
        assert_string_equal(rill_compat_level_name((rill_compat_level_t)i), names[i]);
        assert_int_equal(rill_compat_level_parse(names[i], &level), 0);
        assert_int_equal(level, i);
    }
    rill_compat_level_t level = RILL_COMPAT_NONE;
    assert_int_equal(rill_compat_level_parse("full_transitive", &level), 0);
    assert_int_equal(level, RILL_COMPAT_FULL_TRANSITIVE);
    assert_int_equal(rill_compat_level_parse("SIDEWAYS", &level), RILL_EINVAL);
    assert_int_equal(rill_compat_level_parse(NULL, &level), RILL_EINVAL);
    assert_null(rill_compat_level_name((rill_compat_level_t)7));
    assert_null(rill_avro_incompat_name((rill_avro_incompat_t)6));

    rill_avro_schema_t *s = parse(INT_S);
    rill_compat_result_t *result = NULL;
    assert_int_equal(rill_avro_compatible(NULL, s, &result), RILL_EINVAL);
    assert_int_equal(rill_avro_compatible(s, s, NULL), RILL_EINVAL);
    assert_int_equal(rill_compat_check_avro((rill_compat_level_t)9, s, NULL, 0, &result),
                     RILL_EINVAL);
    assert_int_equal(rill_compat_check_avro(RILL_COMPAT_FULL, s, NULL, 1, &result), RILL_EINVAL);
    const rill_avro_schema_t *holes[] = {s, NULL};
    assert_int_equal(rill_compat_check_avro(RILL_COMPAT_FULL, s, holes, 2, &result), RILL_EINVAL);
    assert_null(result);
    assert_int_equal(rill_compat_result_count(NULL), 0);
    rill_compat_result_destroy(NULL);
    rill_avro_schema_unref(s);
}

/* ---- out of memory ---- */

/* Every allocation of a check with issues fails in turn: RILL_ENOMEM, nothing leaked. */
static void test_out_of_memory(void **state)
{
    rill_avro_schema_t *r = parse(spec_rules[sizeof spec_rules / sizeof spec_rules[0] - 1].reader);
    rill_avro_schema_t *w = parse(spec_rules[sizeof spec_rules / sizeof spec_rules[0] - 1].writer);
    const rill_avro_schema_t *previous[] = {w, r};
    assert_int_equal(fail_nth_install(), 0);
    long n;
    for (n = 0; n < 10000; n++) {
        rill_compat_result_t *result = NULL;
        fail_nth_arm(n);
        int rc = rill_compat_check_avro(RILL_COMPAT_FULL_TRANSITIVE, r, previous, 2, &result);
        fail_nth_disarm();
        if (rc == 0) {
            assert_true(rill_compat_result_count(result) >= 6);
            rill_compat_result_destroy(result);
            break;
        }
        assert_int_equal(rc, RILL_ENOMEM);
        assert_null(result);
    }
    rill_set_allocator(NULL, NULL, NULL);
    assert_true(n > 10 && n < 10000);
    rill_avro_schema_unref(r);
    rill_avro_schema_unref(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avro_pairs),       cmocka_unit_test(test_confluent_levels),
        cmocka_unit_test(test_transitive_chain), cmocka_unit_test(test_references),
        cmocka_unit_test(test_messages),         cmocka_unit_test(test_levels_and_arguments),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
