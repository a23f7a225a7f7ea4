/*
 * Private declarations of the operators layer: the graph's nodes and the runtime's node
 * instances. Never included outside operators/.
 */
#ifndef RILL_OPERATORS_INT_H
#define RILL_OPERATORS_INT_H

#include <rill/processor.h>

#include <regex.h>
#include <stdatomic.h>

typedef enum { NODE_SOURCE, NODE_PROCESSOR, NODE_SINK } node_kind_t;

typedef struct node {
    char *name;
    node_kind_t kind;
    char **parent_names; /* as given; resolved into parents by build */
    size_t nparents;
    int *parents;
    int *children;
    size_t nchildren;
    int subtopology;
    /* processor */
    const rill_processor_ops *ops;
    void *arg;
    void (*arg_free)(void *);
    /* source */
    char **topics; /* NULL-terminated; for an internal source, the "<name>-repartition" suffix */
    size_t ntopics;
    char *pattern;
    regex_t regex;
    bool has_regex;
    bool internal;      /* source or sink of a repartition topic */
    int32_t partitions; /* repartition topic partitions; 0 = as the upstream sources */
    rill_serde_t *key_serde;
    rill_serde_t *value_serde;
    rill_timestamp_fn timestamp_fn;
    void *timestamp_ud;
    /* sink */
    char *topic; /* fixed topic, or the internal suffix */
    rill_topic_extractor_fn extractor;
    void *extractor_ud;
    rill_partitioner_fn partitioner;
    void *partitioner_ud;
} node_t;

typedef struct attachment {
    void *p;
    void (*free_fn)(void *);
    struct attachment *next;
} attachment_t;

struct rill_topology {
    atomic_int refs;
    node_t **nodes;
    size_t n, cap;
    bool built;
    char error[512]; /* first error found while adding; "" when none */
    uint64_t name_counter;
    attachment_t *attachments;
    int nsub;
    int **sub_order; /* per sub-topology, node indices in topological order */
    size_t *sub_n;
};

/* A node instance inside a task: its context is embedded so ctx -> instance is a cast. */
typedef struct node_inst node_inst_t;

struct rill_context {
    rill_task_t *task;
    node_inst_t *inst;
};

struct node_inst {
    rill_context_t ctx;
    const node_t *node;
    int index; /* the node's index in the topology */
    void *state;
    node_inst_t **children;
    size_t nchildren;
    bool initialised;
};

/* The processor every sink node runs. */
extern const rill_processor_ops rill__sink_ops;

/* Returns the full topic name of an internal suffix for app_id in buf. */
const char *rill__internal_topic(const char *app_id, const char *suffix, char *buf, size_t size);
/* Forwards rec to one child instance. */
int rill__forward_one(node_inst_t *child, const rill_record_t *rec);
/* Returns the index among inst's children of the child called name, or -1. */
int rill__child_index(const node_inst_t *inst, const char *name);

#endif
