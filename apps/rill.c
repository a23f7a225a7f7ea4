/*
 * rill: the command-line tool. For now it prints the version and generates
 * docs/CONFIGURATION.md from the configuration table, so the docs never drift from the code.
 */
#include <rill/app.h>

#include <stdio.h>
#include <string.h>

static int usage(FILE *out)
{
    fprintf(out,
            "Usage: rill COMMAND\n\n"
            "  version             print the library version\n"
            "  config --markdown   print docs/CONFIGURATION.md (made from the property table)\n"
            "  config --list       print every property and its default\n");
    return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "version") == 0) {
        printf("rill %s\n", rill_version());
        return 0;
    }
    if (strcmp(argv[1], "config") == 0 && argc == 3 && strcmp(argv[2], "--markdown") == 0) {
        char *md = rill_conf_markdown();
        if (!md)
            return 1;
        fputs(md, stdout);
        rill_free(md);
        return 0;
    }
    if (strcmp(argv[1], "config") == 0 && argc == 3 && strcmp(argv[2], "--list") == 0) {
        size_t n;
        const rill_conf_property_t *props = rill_conf_properties(&n);
        for (size_t i = 0; i < n; i++)
            printf("%s=%s\n", props[i].name, props[i].default_value);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
        return usage(stdout);
    fprintf(stderr, "rill: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
