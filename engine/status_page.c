/*
 * The status page (/ of metrics.listen): engine/status_page.html, compiled in by a CMake step
 * (cmake/embed.cmake), with two holes filled once: @APP_ID@ (the application.id, HTML-escaped)
 * and @TOPOLOGY@, the topology drawn as SVG by Graphviz's library (libgvc) from the DOT of
 * rill_topology_to_dot(). The page's script fetches /status.json (status_json.c) every 2 s and
 * fills its tables; nothing here runs per fetch. The server builds the page on the first request
 * of / and keeps it (metrics_server.c), on its own thread, never on a stream thread.
 *
 * Graphviz keeps global state (its error handler, its plugin tables), so rendering is serialised
 * by one process-wide mutex: two apps in one process may build their pages at once.
 *
 * Which of Graphviz's plugins: only the dot layout and the core renderers (SVG). gvContext()
 * would read Graphviz's plugin list and, for text widths, dlopen its pango plugin, which brings
 * cairo, pango, fontconfig and GLib into the app's process (and fontconfig's caches, which
 * LeakSanitizer reports as leaks); without a text layout plugin Graphviz estimates widths from
 * its built-in metrics of Helvetica, which the browser's sans-serif matches closely enough. The
 * two plugins are found where Graphviz keeps them, graphviz/ beside libgvc itself (as Graphviz
 * finds them), and given to gvContextPlugins() as built-ins; if they are not there, gvContext()
 * does as the `dot` tool does. SVG from
 * Graphviz is XML with the names escaped (&lt; &amp; &quot;); the prolog before <svg is dropped
 * so it can sit inline in HTML, where its text is part of the DOM. If Graphviz cannot draw the
 * graph, the page shows the DOT itself, escaped, and says so.
 */
#define _GNU_SOURCE /* memmem */
#include "metrics_int.h"

#include <gvc.h>

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* engine/status_page.html (generated: build/generated/status_page_html.c). */
extern const char rill__status_page_html[];
extern const size_t rill__status_page_html_len;

static pthread_mutex_t graphviz_lock = PTHREAD_MUTEX_INITIALIZER;
static char graphviz_error[512];

/* Graphviz's error handler: keeps what a render says (it comes in pieces: "Error", ": ", ...). */
static int graphviz_err(char *msg)
{
    size_t n = strlen(graphviz_error);
    snprintf(graphviz_error + n, sizeof graphviz_error - n, "%s", msg);
    return 0;
}

/* Returns plugin name's library (libgvplugin_<name>.so.6 beside libgvc, in graphviz/), kept open
 * for the process's life as Graphviz keeps its own, or NULL. */
static void *plugin(const char *name)
{
    Dl_info info;
    if (!dladdr((void *)gvContext, &info) || !info.dli_fname)
        return NULL;
    const char *slash = strrchr(info.dli_fname, '/');
    char path[PATH_MAX], sym[64];
    snprintf(path, sizeof path, "%.*s/graphviz/libgvplugin_%s.so.6",
             slash ? (int)(slash - info.dli_fname) : 1, slash ? info.dli_fname : ".", name);
    snprintf(sym, sizeof sym, "gvplugin_%s_LTX_library", name);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    return h ? dlsym(h, sym) : NULL;
}

/* Returns a Graphviz context with the dot layout and the SVG renderer (see the top), or NULL.
 * Under graphviz_lock. */
static GVC_t *context(void)
{
    static lt_symlist_t builtins[] = {
        {"gvplugin_dot_layout_LTX_library", NULL}, {"gvplugin_core_LTX_library", NULL}, {0, 0}};
    if (!builtins[0].address || !builtins[1].address) {
        builtins[0].address = plugin("dot_layout");
        builtins[1].address = plugin("core");
    }
    if (builtins[0].address && builtins[1].address)
        return gvContextPlugins(builtins, 0);
    return gvContext();
}

/* Appends the SVG of dot (from "<svg", without the XML prolog) to out: 0, RILL_ENOMEM, or
 * RILL_EINVAL with Graphviz's words in why. */
static int render_svg(const char *dot, rill_bytes_t *out, char *why, size_t why_size)
{
    pthread_mutex_lock(&graphviz_lock);
    graphviz_error[0] = 0;
    agusererrf old = agseterrf(graphviz_err);
    int rc = RILL_EINVAL;
    GVC_t *gvc = context();
    Agraph_t *g = gvc ? agmemread(dot) : NULL;
    char *svg = NULL;
    unsigned len = 0;
    if (g && gvLayout(gvc, g, "dot") == 0) {
        if (gvRenderData(gvc, g, "svg", &svg, &len) == 0 && svg) {
            const char *start = memmem(svg, len, "<svg", 4);
            if (start)
                rc = rill_bytes_append(out, start, len - (size_t)(start - svg)) ? RILL_ENOMEM : 0;
        }
        gvFreeRenderData(svg);
        gvFreeLayout(gvc, g);
    }
    if (g)
        agclose(g);
    if (gvc)
        gvFreeContext(gvc);
    if (rc == RILL_EINVAL)
        snprintf(why, why_size, "%s", graphviz_error[0] ? graphviz_error : "Graphviz failed");
    agseterrf(old);
    pthread_mutex_unlock(&graphviz_lock);
    return rc;
}

/* Appends s, HTML-escaped (text or a quoted attribute's value), to out; 0 or RILL_ENOMEM. */
static int html_escape(rill_bytes_t *out, const char *s)
{
    int rc = 0;
    for (const char *run = s; !rc && *s; run = s) {
        s += strcspn(s, "&<>\"'");
        rc = rill_bytes_append(out, run, (size_t)(s - run));
        if (!rc && *s) {
            static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
            const char *e = ents[strchr("&<>\"'", *s) - "&<>\"'"];
            rc = rill_bytes_append(out, e, strlen(e));
            s++;
        }
    }
    return rc;
}

/* Appends the topology's drawing: its SVG, or its DOT escaped when Graphviz cannot draw it. */
static int topology(rill_app_t *app, rill_bytes_t *out)
{
    char *dot = rill_topology_to_dot(app->topo);
    if (!dot)
        return RILL_ENOMEM;
    char why[600];
    int rc = render_svg(dot, out, why, sizeof why);
    if (rc == RILL_EINVAL) {
        rill_log(RILL_LOG_WARN, "metrics", "status page: cannot draw the topology: %s", why);
        static const char head[] = "<p class=\"error\">Graphviz could not draw the topology (";
        rc = rill_bytes_append(out, head, strlen(head));
        rc = rc ? rc : html_escape(out, why);
        rc = rc ? rc : rill_bytes_append(out, ")</p><pre>", 10);
        rc = rc ? rc : html_escape(out, dot);
        rc = rc ? rc : rill_bytes_append(out, "</pre>", 6);
    }
    rill_free(dot);
    return rc;
}

int rill__status_page_build(rill_app_t *app, rill_bytes_t *out)
{
    const char *page = rill__status_page_html, *end = page + rill__status_page_html_len;
    int rc = 0;
    while (!rc && page < end) {
        const char *hole = memchr(page, '@', (size_t)(end - page));
        size_t n = hole ? (size_t)(hole - page) : (size_t)(end - page);
        rc = rill_bytes_append(out, page, n);
        page += n;
        if (rc || !hole)
            break;
        if (!strncmp(hole, "@APP_ID@", 8)) {
            rc = html_escape(out, app->env.application_id);
            page += 8;
        } else if (!strncmp(hole, "@TOPOLOGY@", 10)) {
            rc = topology(app, out);
            page += 10;
        } else {
            rc = rill_bytes_append(out, "@", 1);
            page++;
        }
    }
    return rc;
}
