/*
 * Unit tests for JSON Schema compatibility (schema.h, schema/json_schema_compat.c).
 *
 * The table ports, as data, the cases of Confluent Schema Registry's JSON Schema diff tests:
 * json-schema-provider/src/test/resources/diff-schema-examples.json ("schema: " + its
 * description) and diff-combined-schema-examples.json ("combined: "), both read by its
 * SchemaDiffTest (github confluentinc/schema-registry, at 794611bd). Each case is an original
 * and an update schema and whether the update can read data written with the original, which is
 * BACKWARD with the update as the new schema, and the differences Confluent finds: the
 * incompatible ones must appear in Rill's message with the same name and path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rill/schema.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *original;
    const char *update;
    int compatible;
    const char *incompatible; /* Confluent's incompatible differences, "; "-separated */
} compat_case_t;

static const compat_case_t confluent_cases[] = {
    {"schema: Anything can change to empty schema", "{\"properties\":{}}", "{}", 1, NULL},
    {"schema: Detect changes to id", "{\"$id\":\"something\"}", "{\"$id\":\"something_else\"}", 1,
     NULL},
    {"schema: Detect changes to title", "{\"title\":\"something\"}",
     "{\"title\":\"something_else\"}", 1, NULL},
    {"schema: Detect changes to description", "{\"description\":\"something\"}",
     "{\"description\":\"something_else\"}", 1, NULL},
    {"schema: Detect changes to simple schema type", "{\"type\":\"object\"}",
     "{\"type\":\"array\"}", 0, "TYPE_CHANGED at #/"},
    {"schema: Detect increased minLength string schema", "{\"type\":\"string\",\"minLength\":10}",
     "{\"type\":\"string\",\"minLength\":11}", 0, "MIN_LENGTH_INCREASED at #/minLength"},
    {"schema: Detect decreased minLength string schema", "{\"type\":\"string\",\"minLength\":11}",
     "{\"type\":\"string\",\"minLength\":10}", 1, NULL},
    {"schema: Detect increased maxLength string schema", "{\"type\":\"string\",\"maxLength\":10}",
     "{\"type\":\"string\",\"maxLength\":12}", 1, NULL},
    {"schema: Detect decreased maxLength string schema", "{\"type\":\"string\",\"maxLength\":12}",
     "{\"type\":\"string\",\"maxLength\":10}", 0, "MAX_LENGTH_DECREASED at #/maxLength"},
    {"schema: Detect removed pattern from string schema",
     "{\"type\":\"string\",\"pattern\":\"uuid\"}", "{\"type\":\"string\"}", 1, NULL},
    {"schema: Detect changes to pattern string schema",
     "{\"type\":\"string\",\"pattern\":\"date-time\"}",
     "{\"type\":\"string\",\"pattern\":\"uuid\"}", 0, "PATTERN_CHANGED at #/pattern"},
    {"schema: Detect changes to pattern", "{\"type\":\"string\",\"pattern\":\"date-time\"}",
     "{\"type\":\"string\",\"pattern\":\"date-time\"}", 1, NULL},
    {"schema: Detect removed maximum number schema", "{\"type\":\"number\",\"maximum\":10}",
     "{\"type\":\"number\"}", 1, NULL},
    {"schema: Detect increased maximum number schema", "{\"type\":\"number\",\"maximum\":10}",
     "{\"type\":\"number\",\"maximum\":11}", 1, NULL},
    {"schema: Detect decreased maximum number schema", "{\"type\":\"number\",\"maximum\":11}",
     "{\"type\":\"number\",\"maximum\":10}", 0, "MAXIMUM_DECREASED at #/maximum"},
    {"schema: Detect removed minimum number schema", "{\"type\":\"number\",\"minimum\":10}",
     "{\"type\":\"number\"}", 1, NULL},
    {"schema: Detect increased minimum number schema", "{\"type\":\"number\",\"minimum\":10}",
     "{\"type\":\"number\",\"minimum\":11}", 0, "MINIMUM_INCREASED at #/minimum"},
    {"schema: Detect decreased minimum number schema", "{\"type\":\"number\",\"minimum\":11}",
     "{\"type\":\"number\",\"minimum\":10}", 1, NULL},
    {"schema: Detect removed multipleOf number schema", "{\"type\":\"number\",\"multipleOf\":10}",
     "{\"type\":\"number\"}", 1, NULL},
    {"schema: Detect reduced multipleOf number schema", "{\"type\":\"number\",\"multipleOf\":10}",
     "{\"type\":\"number\",\"multipleOf\":2}", 1, NULL},
    {"schema: Detect changes to multipleOf number schema",
     "{\"type\":\"number\",\"multipleOf\":10}", "{\"type\":\"number\",\"multipleOf\":11}", 0,
     "MULTIPLE_OF_CHANGED at #/multipleOf"},
    {"schema: Detect narrowed change to number schema", "{\"type\":\"number\"}",
     "{\"type\":\"integer\"}", 0, "TYPE_NARROWED at #/"},
    {"schema: Detect extended change to number schema", "{\"type\":\"integer\"}",
     "{\"type\":\"number\"}", 1, NULL},
    {"schema: Detect compatible change to not schema", "{\"not\":{\"type\":\"number\"}}",
     "{\"not\":{\"type\":\"integer\"}}", 1, NULL},
    {"schema: Detect incompatible change to not schema", "{\"not\":{\"type\":\"integer\"}}",
     "{\"not\":{\"type\":\"number\"}}", 0, "NOT_TYPE_EXTENDED at #/not"},
    {"schema: Detect removed enum", "{\"type\":\"string\",\"enum\":[\"red\"]}",
     "{\"type\":\"string\"}", 1, NULL},
    {"schema: Detect incompatible changes to const schema",
     "{\"$schema\":\"http://json-schema.org/draft-07/"
     "schema#\",\"properties\":{\"foo\":{\"const\":\"red\"}}}",
     "{\"$schema\":\"http://json-schema.org/draft-07/"
     "schema#\",\"properties\":{\"foo\":{\"const\":\"blue\"}}}",
     0, "ENUM_ARRAY_CHANGED at #/properties/foo/const"},
    {"schema: Detect incompatible changes to enum schema",
     "{\"allOf\":[{\"type\":\"string\"},{\"enum\":[\"red\"]}]}",
     "{\"allOf\":[{\"type\":\"string\"},{\"enum\":[\"blue\"]}]}", 0,
     "COMBINED_TYPE_SUBSCHEMAS_CHANGED at #/"},
    {"schema: Detect compatible changes to enum schema",
     "{\"allOf\":[{\"type\":\"string\"},{\"enum\":[\"red\"]}]}",
     "{\"allOf\":[{\"enum\":[\"red\",\"blue\"]},{\"type\":\"string\"}]}", 1, NULL},
    {"schema: Detect changes to type array", "{\"type\":[\"object\"]}",
     "{\"type\":[\"object\",\"array\"]}", 1, NULL},
    {"schema: Detect changes to sub schemas", "{\"oneOf\":[{\"type\":\"string\"}]}",
     "{\"oneOf\":[{\"type\":\"number\"}]}", 0, "COMBINED_TYPE_SUBSCHEMAS_CHANGED at #/"},
    {"schema: Detect changes to number of sub schemas", "{\"oneOf\":[{\"type\":\"string\"}]}",
     "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", 1, NULL},
    {"schema: Detect changes to remove properties",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}}}",
     "{\"properties\":{\"bar\":{\"type\":\"string\"}}}", 0,
     "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at #/properties/bar"},
    {"schema: Detect change type of properties", "{\"properties\":{\"foo\":{\"type\":\"string\"}}}",
     "{\"properties\":{\"foo\":{\"type\":\"number\"}}}", 0, "TYPE_CHANGED at #/properties/foo"},
    {"schema: Detect optional property added to closed content model",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":false}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"number\"}},"
     "\"additionalProperties\":false}",
     1, NULL},
    {"schema: Detect property added to partially open content model 1",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":false,"
     "\"patternProperties\":{\"^S_\":{\"type\":\"string\"},\"^I_\":{\"type\":\"integer\"}}}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"I_123\":{\"type\":\"number\"}},"
     "\"additionalProperties\":false,\"patternProperties\":{\"^S_\":{\"type\":\"string\"},\"^I_\":{"
     "\"type\":\"integer\"}}}",
     1, NULL},
    {"schema: Detect property added to partially open content model 2",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":{\"type\":"
     "\"string\"}}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"string\"}},"
     "\"additionalProperties\":{\"type\":\"string\"}}",
     1, NULL},
    {"schema: Detect property added to partially open content model 3",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":{\"type\":"
     "\"string\"}}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"number\"}},"
     "\"additionalProperties\":{\"type\":\"string\"}}",
     0,
     "TYPE_CHANGED at #/properties/bar; PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL "
     "at #/properties/bar"},
    {"schema: Detect property added to partially open content model 4",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":{\"type\":"
     "\"string\"}}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"string\"}},\"required\":["
     "\"bar\"],\"additionalProperties\":{\"type\":\"string\"}}",
     0, "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL at #/properties/bar"},
    {"schema: Detect property removed from partially open content model 1",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"I_123\":{\"type\":\"integer\"}},"
     "\"additionalProperties\":false}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":false,"
     "\"patternProperties\":{\"^S_\":{\"type\":\"string\"},\"^I_\":{\"type\":\"number\"}}}",
     1, NULL},
    {"schema: Detect property removed from partially open content model 2",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"string\"}},"
     "\"additionalProperties\":false}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":{\"type\":"
     "\"string\"}}",
     1, NULL},
    {"schema: Detect property removed from partially open content model 3",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"number\"}},"
     "\"additionalProperties\":false}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":{\"type\":"
     "\"string\"}}",
     0,
     "TYPE_CHANGED at #/properties/bar; "
     "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at #/properties/bar"},
    {"schema: Detect property removed from partially open content model 4",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"oneOf\":[{\"type\":\"null\"},{"
     "\"type\":\"string\"}]}},\"additionalProperties\":false}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":{\"oneOf\":[{"
     "\"type\":\"null\"},{\"type\":\"string\"}]}}",
     1, NULL},
    {"schema: Detect property removed from partially open content model 5",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"string\"}},"
     "\"additionalProperties\":false}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":{\"oneOf\":[{"
     "\"type\":\"null\"},{\"type\":\"string\"}]}}",
     1, NULL},
    {"schema: Detect property added to open content model",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}}}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"number\"}}}", 0,
     "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at #/properties/bar"},
    {"schema: Detect changes to composed schema type",
     "{\"oneOf\":[{\"properties\":{\"foo\":{\"type\":\"string\"}}}]}",
     "{\"oneOf\":[{\"properties\":{\"foo\":{\"type\":\"number\"}}}]}", 0,
     "COMBINED_TYPE_SUBSCHEMAS_CHANGED at #/"},
    {"schema: Detect changes to validation criteria in composed schema type for singleton",
     "{\"oneOf\":[{\"type\":\"string\"}]}", "{\"allOf\":[{\"type\":\"string\"}]}", 1, NULL},
    {"schema: Detect changes to validation criteria in composed schema type",
     "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
     "{\"allOf\":[{\"type\":\"string\"}]}", 0, "COMBINED_TYPE_CHANGED at #/"},
    {"schema: Detect changes to dependencies as array",
     "{\"properties\":{\"foo\":{\"type\":\"number\"},\"bar\":{\"type\":\"string\"}},"
     "\"dependencies\":{\"foo\":[\"bar\"]}}",
     "{\"properties\":{\"foo\":{\"type\":\"number\"},\"bar\":{\"type\":\"string\"}},"
     "\"dependencies\":{\"bar\":[\"foo\"]}}",
     0, "DEPENDENCY_ARRAY_ADDED at #/dependencies/bar"},
    {"schema: Detect compatible changes to dependencies schemas",
     "{\"dependencies\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"string\"}}}",
     "{\"dependencies\":{\"foo\":{\"type\":\"string\"}}}", 1, NULL},
    {"schema: Detect compatible changes to dependencies schemas",
     "{\"dependencies\":{\"foo\":{\"type\":\"string\"}}}", "{\"dependencies\":{}}", 1, NULL},
    {"schema: Detect incompatible changes to dependencies schemas",
     "{\"dependencies\":{\"foo\":{\"type\":\"string\"}}}",
     "{\"dependencies\":{\"foo\":{\"type\":\"number\"}}}", 0, "TYPE_CHANGED at #/dependencies/foo"},
    {"schema: Detect changes to dependencies properties",
     "{\"dependencies\":{\"foo\":{\"type\":\"string\"}}}",
     "{\"dependencies\":{\"bar\":{\"type\":\"string\"}}}", 0,
     "DEPENDENCY_SCHEMA_ADDED at #/dependencies/bar"},
    {"schema: Detect required array to be removed",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"required\":[\"foo\"]}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}}}", 1, NULL},
    {"schema: Detect required array to be added",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}}}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"required\":[\"foo\"]}", 0,
     "REQUIRED_ATTRIBUTE_ADDED at #/required/foo"},
    {"schema: Detect required array to be changed",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"required\":[\"foo\"]}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"required\":[\"bar\"]}", 1, NULL},
    {"schema: Detect removed maxProperties", "{\"properties\":{},\"maxProperties\":1}",
     "{\"properties\":{}}", 1, NULL},
    {"schema: Detect increased maxProperties", "{\"maxProperties\":1}", "{\"maxProperties\":2}", 1,
     NULL},
    {"schema: Detect decreased maxProperties", "{\"maxProperties\":2}", "{\"maxProperties\":1}", 0,
     "MAX_PROPERTIES_DECREASED at #/maxProperties"},
    {"schema: Detect removed minProperties", "{\"properties\":{},\"minProperties\":2}",
     "{\"properties\":{}}", 1, NULL},
    {"schema: Detect increased minProperties", "{\"minProperties\":1}", "{\"minProperties\":2}", 0,
     "MIN_PROPERTIES_INCREASED at #/minProperties"},
    {"schema: Detect decreased minProperties", "{\"minProperties\":2}", "{\"minProperties\":1}", 1,
     NULL},
    {"schema: Detect changes to all items schema", "{\"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", 0, "SCHEMA_ADDED at #/items"},
    {"schema: Detect changes to all items schema",
     "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}", "{\"type\":\"array\"}", 1, NULL},
    {"schema: Detect changes to items schema list",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}]}",
     "{\"type\":\"array\"}", 1, NULL},
    {"schema: Detect item added to partially open content model 1",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":{\"type\":\"string\"}}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":"
     "\"string\"}],\"additionalItems\":{\"type\":\"string\"}}",
     1, NULL},
    {"schema: Detect item added to partially open content model 2",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":{\"type\":\"string\"}}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":"
     "\"number\"}],\"additionalItems\":{\"type\":\"string\"}}",
     0,
     "TYPE_CHANGED at #/items/2; ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at "
     "#/items/2"},
    {"schema: Detect item removed from partially open content model 1",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":"
     "\"string\"}],\"additionalItems\":{\"type\":\"string\"}}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":{\"type\":\"string\"}}",
     1, NULL},
    {"schema: Detect item removed from partially open content model 2",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"oneOf\":[{"
     "\"type\":\"null\"},{\"type\":\"string\"}]}],\"additionalItems\":{\"oneOf\":[{\"type\":"
     "\"null\"},{\"type\":\"string\"}]}}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":{\"oneOf\":[{\"type\":\"null\"},{\"type\":\"string\"}]}}",
     1, NULL},
    {"schema: Detect item removed from partially open content model 3",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":"
     "\"number\"}],\"additionalItems\":{\"type\":\"string\"}}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":{\"type\":\"string\"}}",
     0,
     "TYPE_CHANGED at #/items/2; ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL at "
     "#/items/2"},
    {"schema: Detect changes to items in the schema list",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"number\"}]}", 0, "TYPE_CHANGED at #/items/0"},
    {"schema: Detect decreased maxItems", "{\"type\":\"array\",\"maxItems\":2}",
     "{\"type\":\"array\",\"maxItems\":1}", 0, "MAX_ITEMS_DECREASED at #/maxItems"},
    {"schema: Detect removed minItems", "{\"type\":\"array\",\"minItems\":1}",
     "{\"type\":\"array\"}", 1, NULL},
    {"schema: Detect increased minItems", "{\"type\":\"array\",\"minItems\":1}",
     "{\"type\":\"array\",\"minItems\":2}", 0, "MIN_ITEMS_INCREASED at #/minItems"},
    {"schema: Detect decreased minItems", "{\"type\":\"array\",\"minItems\":2}",
     "{\"type\":\"array\",\"minItems\":1}", 1, NULL},
    {"schema: Detect unique items removed", "{\"type\":\"array\",\"uniqueItems\":true}",
     "{\"type\":\"array\"}", 1, NULL},
    {"schema: Detect incompatible changes to reference schemas",
     "{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/"
     "someRef\"},\"definitions\":{\"someRef\":{\"type\":\"string\"}}}",
     "{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/"
     "someRef\"},\"definitions\":{\"someRef\":{\"type\":\"number\"}}}",
     0, "TYPE_CHANGED at #/items"},
    {"schema: Detect compatible change of moving to reference schema", "{\"type\":\"string\"}",
     "{\"$ref\":\"#/definitions/someRef\",\"definitions\":{\"someRef\":{\"type\":\"string\"}}}", 1,
     NULL},
    {"schema: Detect compatible change of moving from reference schema",
     "{\"$ref\":\"#/definitions/someRef\",\"definitions\":{\"someRef\":{\"type\":\"string\"}}}",
     "{\"type\":\"string\"}", 1, NULL},
    {"schema: Detect added boolean additional properties",
     "{\"properties\":{},\"additionalProperties\":false}", "{\"properties\":{}}", 1, NULL},
    {"schema: Detect removed boolean additional properties", "{\"additionalProperties\":true}",
     "{\"additionalProperties\":false}", 0,
     "ADDITIONAL_PROPERTIES_REMOVED at #/additionalProperties"},
    {"schema: Detect narrowing changes to additional properties schema",
     "{\"additionalProperties\":true}", "{\"additionalProperties\":{\"type\":\"number\"}}", 0,
     "ADDITIONAL_PROPERTIES_NARROWED at #/additionalProperties"},
    {"schema: Detect adding empty schema to open content model", "{\"additionalProperties\":true}",
     "{\"additionalProperties\":true,\"properties\":{\"foo\":true}}", 1, NULL},
    {"schema: Detect removing empty schema from open content model",
     "{\"additionalProperties\":true,\"properties\":{\"foo\":true}}",
     "{\"additionalProperties\":true}", 1, NULL},
    {"schema: Detect adding false to closed content model", "{\"additionalProperties\":false}",
     "{\"additionalProperties\":false,\"properties\":{\"foo\":false}}", 1, NULL},
    {"schema: Detect removing false from closed content model",
     "{\"additionalProperties\":false,\"properties\":{\"foo\":false}}",
     "{\"additionalProperties\":false}", 1, NULL},
    {"schema: Detect changes to additional properties schema",
     "{\"additionalProperties\":{\"type\":\"string\"}}",
     "{\"additionalProperties\":{\"type\":\"number\"}}", 0,
     "TYPE_CHANGED at #/additionalProperties"},
    {"schema: Detect removed boolean additional items", "{\"additionalItems\":true}",
     "{\"additionalItems\":false}", 0, "ADDITIONAL_ITEMS_REMOVED at #/additionalItems"},
    {"schema: Detect changes to additional items schema",
     "{\"additionalItems\":{\"type\":\"string\"}}", "{\"additionalItems\":{\"type\":\"number\"}}",
     0, "TYPE_CHANGED at #/additionalItems"},
    {"schema: Detect adding empty schema to open content model for array",
     "{\"type\":\"array\",\"additionalItems\":true,\"items\":[{\"type\":\"number\"}]}",
     "{\"type\":\"array\",\"additionalItems\":true,\"items\":[{\"type\":\"number\"},true]}", 1,
     NULL},
    {"schema: Detect removing empty schema from open content model for array",
     "{\"type\":\"array\",\"additionalItems\":true,\"items\":[{\"type\":\"number\"},true]}",
     "{\"type\":\"array\",\"additionalItems\":true,\"items\":[{\"type\":\"number\"}]}", 1, NULL},
    {"schema: Detect adding false to closed content model for array",
     "{\"type\":\"array\",\"additionalItems\":false,\"items\":[{\"type\":\"number\"}]}",
     "{\"type\":\"array\",\"additionalItems\":false,\"items\":[{\"type\":\"number\"},false]}", 1,
     NULL},
    {"schema: Detect removing false from closed content model for array",
     "{\"type\":\"array\",\"additionalItems\":false,\"items\":[{\"type\":\"number\"},false]}",
     "{\"type\":\"array\",\"additionalItems\":false,\"items\":[{\"type\":\"number\"}]}", 1, NULL},
    {"schema: Detect adding to closed content model for array",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":false}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":"
     "\"boolean\"}],\"additionalItems\":true}",
     1, NULL},
    {"schema: Detect removing from closed content model for array",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"},{\"type\":"
     "\"boolean\"}],\"additionalItems\":false}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":true}",
     1, NULL},
    {"schema: Detect removing from open content model for array",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":true}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}],\"additionalItems\":true}", 1, NULL},
    {"schema: Detect adding to closed content model for array",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":false}",
     1, NULL},
    {"schema: Detect removing number from closed content model for array",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":false}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}],\"additionalItems\":{\"type\":"
     "\"number\"}}",
     1, NULL},
    {"schema: Detect adding number to partially open content model for array",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"}],\"additionalItems\":{\"type\":"
     "\"number\"}}",
     "{\"type\":\"array\",\"items\":[{\"type\":\"string\"},{\"type\":\"number\"}],"
     "\"additionalItems\":true}",
     1, NULL},
    {"schema: Detect change to oneOf schema", "{\"type\":\"string\"}",
     "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", 1, NULL},
    {"schema: Detect change to optional oneOf schema", "{\"type\":\"null\"}",
     "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"null\"}]}", 1, NULL},
    {"schema: Detect change to oneOf schema", "{\"oneOf\":[{\"type\":\"number\"}]}",
     "{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"number\"}]}", 1, NULL},
    {"schema: Detect change to oneOf schema", "{\"type\":\"string\",\"maxLength\":3}",
     "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", 1, NULL},
    {"schema: Allow addition of un-reserved property",
     "{\"properties\":{\"foo\":{\"type\":\"string\"}},\"additionalProperties\":false}",
     "{\"properties\":{\"foo\":{\"type\":\"string\"},\"bar\":{\"type\":\"string\"}},"
     "\"additionalProperties\":false}",
     1, NULL},
    {"combined: Detect compatible change to combined schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"enum\":[\"one\",\"two\","
     "\"three\"]},{\"type\":\"string\"},{\"maxLength\":5}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"maxLength\":5},{\"enum\":["
     "\"one\",\"two\",\"three\"]},{\"type\":\"string\"}]}}}",
     1, NULL},
    {"combined: Detect incompatible change to combined schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"enum\":[\"one\",\"two\","
     "\"three\"]},{\"type\":\"string\"},{\"maxLength\":5}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"maxLength\":5},{\"enum\":["
     "\"one\",\"two\",\"three\"]},{\"type\":\"number\"}]}}}",
     0, "COMBINED_TYPE_SUBSCHEMAS_CHANGED at #/properties/prop1"},
    {"combined: Detect combined schema with duplicates in original",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"},{\"type\":"
     "\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect combined schema with duplicates in update",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change to oneOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change to oneOf schema with more types",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"boolean\"},{\"type\":"
     "\"number\"},{\"type\":\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change to oneOf schema with more properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\","
     "\"maxLength\":5}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"boolean\"},{\"type\":"
     "\"number\"},{\"title\":\"my string\",\"type\":\"string\",\"maxLength\":8}]}}}",
     1, NULL},
    {"combined: Detect incompatible change to oneOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}", 0,
     "SUM_TYPE_NARROWED at #/properties/prop1"},
    {"combined: Detect compatible change to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"enum\":[\"one\",\"two\","
     "\"three\"]},{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect incompatible change to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"enum\":[\"one\",\"two\","
     "\"three\"]},{\"type\":\"string\"}]}}}",
     0, "PRODUCT_TYPE_EXTENDED at #/properties/prop1"},
    {"combined: Detect compatible change from oneOf to anyOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect compatible change from oneOf to anyOf schema with more properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change from allOf to anyOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect incompatible change from oneOf to anyOf schema with fewer properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"string\"}]}}}", 0,
     "SUM_TYPE_NARROWED at #/properties/prop1"},
    {"combined: Detect compatible change from allOf to anyOf schema with more properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change from allOf to anyOf schema with fewer properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect compatible change from anyOf to oneOf schema with more properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect incompatible change from anyOf to oneOf schema with fewer properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}", 0,
     "COMBINED_TYPE_CHANGED at #/properties/prop1"},
    {"combined: Detect compatible change from allOf to oneOf schema with more properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"number\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change from allOf to oneOf schema with fewer properties",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect compatible change from anyOf to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect compatible change from oneOf to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect incompatible change from anyOf to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     0, "COMBINED_TYPE_CHANGED at #/properties/prop1"},
    {"combined: Detect incompatible change from oneOf to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"string\"}]}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     0, "COMBINED_TYPE_CHANGED at #/properties/prop1"},
    {"combined: Detect compatible change from non-combined to anyOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"type\":\"string\"}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change from non-combined to oneOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"type\":\"string\"}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"oneOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     1, NULL},
    {"combined: Detect compatible change from non-combined to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"type\":\"string\"}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"string\"}]}}}", 1,
     NULL},
    {"combined: Detect incompatible change from non-combined to allOf schema",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"type\":\"string\"}}}",
     "{\"type\":\"object\",\"properties\":{\"prop1\":{\"allOf\":[{\"type\":\"number\"},{\"type\":"
     "\"string\"}]}}}",
     0, "TYPE_CHANGED at #/properties/prop1"},
};

/* Every case gives Confluent's answer, and a message naming each incompatible difference
 * Confluent lists for it, with its path. */
static void test_confluent_cases(void **state)
{
    int agree = 0, named = 0;
    for (size_t i = 0; i < sizeof confluent_cases / sizeof *confluent_cases; i++) {
        const compat_case_t *t = &confluent_cases[i];
        char err[2048];
        int rc =
            rill_json_schema_compatible(t->update, strlen(t->update), t->original,
                                        strlen(t->original), RILL_COMPAT_BACKWARD, err, sizeof err);
        assert_true(rc == 0 || rc == RILL_ESERDE);
        if ((rc == 0) != t->compatible)
            fail_msg("%s: want %s, got \"%s\"", t->name,
                     t->compatible ? "compatible" : "incompatible", err);
        agree++;
        if (!t->incompatible)
            continue;
        char want[512];
        snprintf(want, sizeof want, "%s", t->incompatible);
        for (char *tok = strtok(want, ";"); tok; tok = strtok(NULL, ";")) {
            while (*tok == ' ')
                tok++;
            if (!strstr(err, tok))
                fail_msg("%s: want \"%s\" in \"%s\"", t->name, tok, err);
            named++;
        }
    }
    printf("  Confluent's cases: %d of %zu agree; %d incompatible differences named\n", agree,
           sizeof confluent_cases / sizeof *confluent_cases, named);
    assert_int_equal(agree, 132);
}

/* Rill's own cases: each direction of each level, and the messages. */
typedef struct {
    const char *old_schema;
    const char *new_schema;
    rill_compat_level_t level;
    const char *error; /* NULL: compatible; else a part of the message */
} level_case_t;

#define OBJ(props) "{\"type\":\"object\",\"properties\":{" props "}}"
#define CLOSED(props)                                                                              \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{" props "}}"

static const level_case_t level_cases[] = {
    /* an optional property added to a closed model: backward yes, forward no */
    {CLOSED("\"a\":{\"type\":\"string\"}"),
     CLOSED("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}"), RILL_COMPAT_BACKWARD,
     NULL},
    {CLOSED("\"a\":{\"type\":\"string\"}"),
     CLOSED("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}"), RILL_COMPAT_FORWARD,
     "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL at #/properties/b"},
    {CLOSED("\"a\":{\"type\":\"string\"}"),
     CLOSED("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}"), RILL_COMPAT_FULL,
     "FORWARD (old reads new): PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
    {CLOSED("\"a\":{\"type\":\"string\"}"),
     CLOSED("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}"), RILL_COMPAT_NONE, NULL},
    /* a required property added to a closed model */
    {CLOSED("\"a\":{\"type\":\"string\"}"),
     "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"b\"],"
     "\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}}}",
     RILL_COMPAT_BACKWARD, "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL at #/properties/b"},
    /* an optional property added to an open model */
    {OBJ("\"a\":{\"type\":\"string\"}"), OBJ("\"a\":{\"type\":\"string\"},\"b\":{}"),
     RILL_COMPAT_BACKWARD, NULL},
    {OBJ("\"a\":{\"type\":\"string\"}"),
     OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}"), RILL_COMPAT_BACKWARD,
     "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL at #/properties/b"},
    {OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"}"),
     OBJ("\"a\":{\"type\":\"string\"}"), RILL_COMPAT_BACKWARD, NULL},
    /* widening and narrowing, nested */
    {OBJ("\"n\":" OBJ("\"v\":{\"type\":\"integer\"}")),
     OBJ("\"n\":" OBJ("\"v\":{\"type\":\"number\"}")), RILL_COMPAT_BACKWARD, NULL},
    {OBJ("\"n\":" OBJ("\"v\":{\"type\":\"integer\"}")),
     OBJ("\"n\":" OBJ("\"v\":{\"type\":\"number\"}")), RILL_COMPAT_FORWARD,
     "TYPE_NARROWED at #/properties/n/properties/v"},
    {OBJ("\"v\":{\"type\":[\"string\"]}"), OBJ("\"v\":{\"type\":[\"string\",\"null\"]}"),
     RILL_COMPAT_BACKWARD, NULL},
    {OBJ("\"v\":{\"type\":[\"string\"]}"), OBJ("\"v\":{\"type\":[\"string\",\"null\"]}"),
     RILL_COMPAT_FORWARD, "SUM_TYPE_NARROWED at #/properties/v"},
    /* enums */
    {"{\"enum\":[\"a\",\"b\"]}", "{\"enum\":[\"a\",\"b\",\"c\"]}", RILL_COMPAT_BACKWARD, NULL},
    {"{\"enum\":[\"a\",\"b\"]}", "{\"enum\":[\"a\",\"b\",\"c\"]}", RILL_COMPAT_FORWARD,
     "ENUM_ARRAY_CHANGED at #/enum"},
    /* bounds */
    {"{\"type\":\"string\"}", "{\"type\":\"string\",\"maxLength\":5}", RILL_COMPAT_BACKWARD,
     "MAX_LENGTH_ADDED at #/maxLength"},
    {"{\"type\":\"string\",\"maxLength\":5}", "{\"type\":\"string\"}", RILL_COMPAT_BACKWARD, NULL},
    {"{\"type\":\"number\",\"minimum\":1}", "{\"type\":\"number\",\"minimum\":0}", RILL_COMPAT_FULL,
     "FORWARD (old reads new): MINIMUM_INCREASED at #/minimum"},
    {"{\"type\":\"number\",\"exclusiveMaximum\":10}",
     "{\"type\":\"number\",\"exclusiveMaximum\":20}", RILL_COMPAT_BACKWARD_TRANSITIVE, NULL},
    /* items */
    {"{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
     "{\"type\":\"array\",\"items\":{\"type\":\"number\"}}", RILL_COMPAT_FULL_TRANSITIVE,
     "TYPE_NARROWED at #/items"},
    {"{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}",
     "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"maxItems\":3}", RILL_COMPAT_BACKWARD,
     "MAX_ITEMS_ADDED at #/maxItems"},
    /* additionalProperties as a schema */
    {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}", RILL_COMPAT_BACKWARD,
     NULL},
    {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"number\"}}", RILL_COMPAT_FORWARD,
     "TYPE_NARROWED at #/additionalProperties"},
    /* refs are followed, recursion ends */
    {"{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\"},"
     "\"next\":{\"$ref\":\"#/$defs/n\"}}}},\"$ref\":\"#/$defs/n\"}",
     "{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"string\"},"
     "\"next\":{\"$ref\":\"#/$defs/n\"}}}},\"$ref\":\"#/$defs/n\"}",
     RILL_COMPAT_BACKWARD, "TYPE_CHANGED at #/properties/v"},
};

static void test_levels(void **state)
{
    for (size_t i = 0; i < sizeof level_cases / sizeof *level_cases; i++) {
        const level_case_t *t = &level_cases[i];
        char err[1024] = "x";
        int rc = rill_json_schema_compatible(t->new_schema, strlen(t->new_schema), t->old_schema,
                                             strlen(t->old_schema), t->level, err, sizeof err);
        if (!t->error) {
            if (rc != 0)
                fail_msg("case %zu: want compatible, got \"%s\"", i, err);
            assert_string_equal(err, "");
        } else {
            assert_int_equal(rc, RILL_ESERDE);
            if (!strstr(err, t->error))
                fail_msg("case %zu: want \"%s\" in \"%s\"", i, t->error, err);
        }
    }
}

/* Confluent's CircularRefSchemaDiffTest (testCircularSchema12BranchesX5Props): a 2020-12 schema
 * whose oneOf branches reference, through $ref beside properties, a oneOf that leads back to
 * the first; comparing it with itself must end (it once hung Confluent's diff) and find it
 * compatible both ways. */
static char *circular_schema(int branches, int props)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    assert_non_null(b);
#define PUT(...) n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__)
    PUT("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$defs\":{"
        "\"SimpleId\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"}},"
        "\"required\":[\"id\"]},"
        "\"Base\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}},"
        "\"ProductOrId\":{\"oneOf\":[{\"$ref\":\"#/$defs/SimpleId\"},"
        "{\"$ref\":\"#/$defs/Product\"}]},");
    for (int i = 0; i < branches; i++) {
        PUT("\"Type%d\":{\"$ref\":\"#/$defs/Base\",\"type\":\"object\",\"properties\":{", i);
        for (int p = 0; p < props; p++)
            PUT("\"ref%d\":{\"$ref\":\"#/$defs/ProductOrId\"},", p);
        PUT("\"tag\":{\"type\":\"string\",\"const\":\"type%d\"}},\"required\":[\"ref0\",\"tag\"]},",
            i);
    }
    PUT("\"Product\":{\"oneOf\":[");
    for (int i = 0; i < branches; i++)
        PUT("{\"$ref\":\"#/$defs/Type%d\"}%s", i, i < branches - 1 ? "," : "");
    PUT("]}},\"$ref\":\"#/$defs/Product\"}");
#undef PUT
    assert_true(n < cap);
    return b;
}

static void test_circular(void **state)
{
    char *s = circular_schema(12, 5);
    char err[256];
    assert_int_equal(
        rill_json_schema_compatible(s, strlen(s), s, strlen(s), RILL_COMPAT_FULL, err, sizeof err),
        0);
    /* and it validates with the same schema compiled for data */
    rill_json_schema_t *v = rill_json_schema_new(s, strlen(s), err, sizeof err);
    assert_non_null(v);
    const char *doc = "{\"name\":\"x\",\"tag\":\"type3\",\"ref0\":{\"id\":\"7\"}}";
    assert_int_equal(rill_json_schema_validate(v, doc, strlen(doc), err, sizeof err), 0);
    rill_json_schema_destroy(v);
    free(s);
}

static void test_bad_arguments(void **state)
{
    char err[256];
    assert_int_equal(
        rill_json_schema_compatible("{", 1, "{}", 2, RILL_COMPAT_BACKWARD, err, sizeof err),
        RILL_EINVAL);
    assert_non_null(strstr(err, "new schema is not JSON"));
    assert_int_equal(
        rill_json_schema_compatible("{}", 2, "[", 1, RILL_COMPAT_BACKWARD, err, sizeof err),
        RILL_EINVAL);
    assert_non_null(strstr(err, "old schema is not JSON"));
    assert_int_equal(
        rill_json_schema_compatible(NULL, 0, "{}", 2, RILL_COMPAT_BACKWARD, err, sizeof err),
        RILL_EINVAL);
    assert_int_equal(
        rill_json_schema_compatible("{}", 2, "{}", 2, (rill_compat_level_t)99, err, sizeof err),
        RILL_EINVAL);
    /* a tiny buffer is still terminated */
    char small[8];
    assert_int_equal(rill_json_schema_compatible("{\"type\":\"string\"}", 17,
                                                 "{\"type\":\"integer\"}", 18, RILL_COMPAT_BACKWARD,
                                                 small, sizeof small),
                     RILL_ESERDE);
    assert_true(strlen(small) < sizeof small);
    /* both directions failing, each message cut: still terminated, nothing written past */
    char tiny[40];
    memset(tiny, 'x', sizeof tiny);
    const char *a = "{\"type\":\"integer\"}", *b = "{\"type\":\"number\",\"maxLength\":3}";
    assert_int_equal(
        rill_json_schema_compatible(a, strlen(a), b, strlen(b), RILL_COMPAT_FULL, tiny, 30),
        RILL_ESERDE);
    assert_true(strlen(tiny) < 30);
    assert_int_equal(tiny[30], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confluent_cases),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_circular),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
