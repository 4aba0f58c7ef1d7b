/*
 * main.c -- the phaseflow executable: Lua 5.4 with the phaseflow library preloaded.
 *
 *   phaseflow script.lua [args]   run a script (arg as in lua; strict globals)
 *   phaseflow -e 'code'           run code (pf is predefined)
 *   phaseflow -l module           require a module into a global of its name
 *   phaseflow                     REPL: readline editing and history, multi-line input,
 *                                 expressions print their value, Ctrl-C interrupts,
 *                                 help(x) shows a doc comment, Tab completes names
 *
 * Modelled on lua.c's structure (docall with a traceback handler, a SIGINT hook that
 * stops running Lua code), written for this program.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "phaseflow/config.h"
#include "phaseflow/mpi.h"
#include "pf_lua.h"

int luaopen_phaseflow_core(lua_State *L);

static const char *progname = "phaseflow";

/* The one piece of process state a signal handler may touch. It is registered in
 * each Lua state (registry key PF_INTERRUPT_KEY) so C loops can poll it. */
static volatile sig_atomic_t interrupted = 0;
static lua_State *running_L = NULL;

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [script [args]]\n"
            "  -e code      execute the string 'code' (pf is predefined)\n"
            "  -l name      require library 'name' into global 'name'\n"
            "  -i           enter the REPL after running the script or -e code\n"
            "  --no-strict  do not make undefined globals an error in scripts\n"
            "  -v, --version  print version, git commit, BLAS kernel, threads and MPI\n"
            "  -h, --help   this text\n"
            "  --           stop handling options\n"
            "  -            run standard input as a script\n"
            "With no script, an interactive session starts (history in ~/.phaseflow_history);\n"
            "help(pf.flow.maf) or help \"flow\" shows the docs, Tab completes pf. names.\n"
            "Threads: OMP_NUM_THREADS (OpenMP pool shared with OpenBLAS).\n",
            progname);
}

/* ---- running code --------------------------------------------------------- */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* SIGINT while Lua runs: stop at the next hook point; C loops see the flag. A
 * second Ctrl-C before the first was handled falls back to the default action. */
static void on_sigint(int sig)
{
    signal(sig, SIG_DFL);
    interrupted = 1;
    if (running_L)
        lua_sethook(running_L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* An error raised by phaseflow's own checks ("pf.NAME: ...", perhaps after the
 * "script:line: " of the call that caused it) is a user's mistake: its message is
 * enough. Returns where the message to print starts (past a position inside the
 * library itself, which would only show build paths), or NULL for anything else (a nil
 * indexed, a C argument error): a bug, printed with its traceback. PHASEFLOW_DEBUG=1
 * gives every error its traceback. */
static const char *user_error(const char *msg)
{
    const char *dbg = getenv("PHASEFLOW_DEBUG");
    if (dbg && *dbg && strcmp(dbg, "0") != 0) return NULL;
    const char *p = msg;
    const char *colon = strstr(p, ": ");
    if (colon && strncmp(p, "pf.", 3) != 0) {
        /* one "chunk:line: " position */
        const char *q = colon;
        while (q > p && q[-1] >= '0' && q[-1] <= '9') q--;
        if (q < colon && q > p && q[-1] == ':') {
            const char *lib = strstr(p, "lua/phaseflow/");
            p = colon + 2;
            if (strncmp(p, "pf.", 3) != 0) return NULL;
            return lib && lib < colon ? p : msg;
        }
    }
    return strncmp(p, "pf.", 3) == 0 && strstr(p, ": ") != NULL ? p : NULL;
}

static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    const char *user = user_error(msg);
    if (user) {
        lua_pushstring(L, user);
        return 1;
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int docall(lua_State *L, int narg, int nres)
{
    int base = lua_gettop(L) - narg;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    interrupted = 0;
    running_L = L;
    signal(SIGINT, on_sigint);
    int status = lua_pcall(L, narg, nres, base);
    signal(SIGINT, SIG_DFL);
    running_L = NULL;
    lua_sethook(L, NULL, 0, 0);
    lua_remove(L, base);
    return status;
}

/* Print an error. Under MPI with several ranks the message names the rank, and every
 * rank is aborted: the others would otherwise wait for this one in their next
 * collective forever. */
static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        fflush(stdout);
        const char *msg = lua_tostring(L, -1);
        if (pf_mpi_size() > 1)
            fprintf(stderr, "%s: rank %d: %s\n", progname, pf_mpi_rank(),
                    msg ? msg : "(error without message)");
        else
            fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error without message)");
        fflush(stderr);
        lua_pop(L, 1);
        pf_mpi_abort(1);
    }
    return status;
}

static int dochunk(lua_State *L, int status)
{
    if (status == LUA_OK)
        status = docall(L, 0, 0);
    return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name)
{
    return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

static int dolibrary(lua_State *L, const char *name)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, name);
    int status = docall(L, 1, 1);
    if (status == LUA_OK) {
        const char *dot = strrchr(name, '.');
        lua_setglobal(L, dot ? dot + 1 : name);
    }
    return report(L, status);
}

/* Build the global 'arg': script at 0, its arguments at 1.., options before it at
 * negative indices (as lua.c does). */
static void createargtable(lua_State *L, char **argv, int argc, int script)
{
    lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

static int pushargs(lua_State *L)
{
    if (lua_getglobal(L, "arg") != LUA_TTABLE)
        luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    int i;
    for (i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

static int enable_strict(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, "phaseflow.strict");
    int status = docall(L, 1, 1);
    if (status != LUA_OK)
        return report(L, status);
    lua_getfield(L, -1, "enable");
    lua_remove(L, -2);
    return report(L, docall(L, 0, 0));
}

static int handle_script(lua_State *L, const char *fname, int strict)
{
    if (strict && enable_strict(L) != LUA_OK)
        return 1;
    if (strcmp(fname, "-") == 0)
        fname = NULL;
    int status = luaL_loadfile(L, fname);
    if (status == LUA_OK) {
        int n = pushargs(L);
        status = docall(L, n, 0);
    }
    return report(L, status);
}

/* ---- the REPL ------------------------------------------------------------- */

static char history_path[PATH_MAX];
static volatile sig_atomic_t prompt_interrupted = 0;

static void on_sigint_prompt(int sig)
{
    (void)sig;
    prompt_interrupted = 1;
}

/* Called by readline while it waits: a Ctrl-C at the prompt discards the line. */
static int prompt_event_hook(void)
{
    if (prompt_interrupted) {
        rl_replace_line("", 0);
        rl_done = 1;
    }
    return 0;
}

/* Read a line; NULL at end of input. `cancelled` is set when Ctrl-C was pressed. */
static char *read_line(const char *prompt, int tty, int *cancelled)
{
    *cancelled = 0;
    if (tty) {
        prompt_interrupted = 0;
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint_prompt;
        sigaction(SIGINT, &sa, &old);
        char *line = readline(prompt);
        sigaction(SIGINT, &old, NULL);
        if (prompt_interrupted) {
            *cancelled = 1;
            fputs("\n", stdout);
            free(line);
            return strdup("");
        }
        return line;
    }
    static char buf[65536];
    if (!fgets(buf, sizeof buf, stdin))
        return NULL;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    return strdup(buf);
}

/* Is the compile error one that more input could fix? */
static int incomplete(lua_State *L, int status)
{
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        const char *eof = "<eof>";
        size_t le = strlen(eof);
        if (lmsg >= le && strcmp(msg + lmsg - le, eof) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* Print the values left on the stack through phaseflow.repl's show(), falling back
 * to print when that module is not available. */
static void print_results(lua_State *L, int n)
{
    if (n <= 0)
        return;
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    int fn = lua_gettop(L) - n;
    lua_getglobal(L, "require");
    lua_pushstring(L, "phaseflow.repl");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_getfield(L, -1, "show");
        lua_remove(L, -2);
    } else {
        lua_pop(L, 1);
        lua_getglobal(L, "print");
    }
    lua_insert(L, fn + 1);
    if (docall(L, n, 0) != LUA_OK)
        report(L, LUA_ERRRUN);
}

/* ---- Tab completion: the candidates come from phaseflow.repl's complete(text) ------- */

static lua_State *completion_L = NULL;
static char **completion_list = NULL;
static size_t completion_n = 0, completion_next = 0;

static void completion_clear(void)
{
    for (size_t i = completion_next; i < completion_n; i++)
        free(completion_list[i]);
    free(completion_list);
    completion_list = NULL;
    completion_n = completion_next = 0;
}

/* Fill completion_list with complete(text)'s strings; any failure leaves it empty. */
static void completion_fill(const char *text)
{
    lua_State *L = completion_L;
    completion_clear();
    if (!L)
        return;
    int top = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "phaseflow.repl");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        lua_getfield(L, -1, "complete");
        lua_pushstring(L, text);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
            lua_Integer n = luaL_len(L, -1);
            completion_list = n > 0 ? calloc((size_t)n, sizeof *completion_list) : NULL;
            for (lua_Integer i = 1; completion_list && i <= n; i++) {
                lua_rawgeti(L, -1, i);
                const char *s = lua_tostring(L, -1);
                char *copy = s ? strdup(s) : NULL;
                if (copy)
                    completion_list[completion_n++] = copy;
                lua_pop(L, 1);
            }
        }
    }
    lua_settop(L, top);
}

/* readline's generator: state 0 starts a new completion; then one match per call. */
static char *completion_generator(const char *text, int state)
{
    if (state == 0)
        completion_fill(text);
    if (completion_next < completion_n)
        return completion_list[completion_next++]; /* readline frees it */
    return NULL;
}

static char **complete_name(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* no file names */
    rl_completion_append_character = '\0';
    return rl_completion_matches(text, completion_generator);
}

static void repl(lua_State *L)
{
    int tty = isatty(STDIN_FILENO);
    if (tty) {
        /* a name with its dots and colons is one word: pf.flow.ma<Tab>, f:<Tab> */
        completion_L = L;
        rl_readline_name = "phaseflow";
        rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#";
        rl_attempted_completion_function = complete_name;
        const char *h = getenv("PHASEFLOW_HISTORY");
        const char *home = getenv("HOME");
        if (h)
            snprintf(history_path, sizeof history_path, "%s", h);
        else if (home)
            snprintf(history_path, sizeof history_path, "%s/.phaseflow_history", home);
        if (history_path[0])
            read_history(history_path);
        rl_event_hook = prompt_event_hook;
        printf("phaseflow %s (%s) -- Lua 5.4; 'pf' is loaded. Ctrl-D quits.\n",
               pf_version_string(), pf_git_commit());
    }
    for (;;) {
        int cancelled;
        char *line = read_line(tty ? "pf> " : "", tty, &cancelled);
        if (!line)
            break;
        if (cancelled) {
            free(line);
            continue;
        }
        /* Accumulate lines until the chunk compiles (or fails for a real reason). */
        size_t cap = strlen(line) + 64, len = 0;
        char *chunk = malloc(cap);
        if (!chunk) {
            free(line);
            break;
        }
        chunk[0] = '\0';
        int status = -1;
        int first = 1;
        for (;;) {
            size_t ll = strlen(line);
            if (len + ll + 2 > cap) {
                cap = 2 * (len + ll + 2);
                char *nc = realloc(chunk, cap);
                if (!nc)
                    break;
                chunk = nc;
            }
            if (!first)
                chunk[len++] = '\n';
            memcpy(chunk + len, line, ll + 1);
            len += ll;
            free(line);
            line = NULL;
            /* First try it as an expression whose value is printed. */
            const char *retline = lua_pushfstring(L, "return %s;", chunk);
            status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
            lua_remove(L, -2);
            if (status == LUA_OK)
                break;
            lua_pop(L, 1);
            status = luaL_loadbuffer(L, chunk, len, "=stdin");
            if (!incomplete(L, status))
                break;
            first = 0;
            line = read_line(tty ? "pf>> " : "", tty, &cancelled);
            if (!line || cancelled) {
                status = -1;
                break;
            }
        }
        free(line);
        if (status == -1) {
            free(chunk);
            continue;
        }
        if (tty && len > 0)
            add_history(chunk);
        free(chunk);
        if (status == LUA_OK) {
            int base = lua_gettop(L) - 1;
            status = docall(L, 0, LUA_MULTRET);
            if (status == LUA_OK)
                print_results(L, lua_gettop(L) - base);
            else
                report(L, status);
        } else {
            report(L, status);
        }
        lua_settop(L, 0);
    }
    if (tty) {
        completion_clear();
        completion_L = NULL;
        if (history_path[0])
            write_history(history_path);
        putchar('\n');
    }
}

/* ---- start-up ------------------------------------------------------------- */

/* Find the folder holding phaseflow/init.lua next to the executable: build/phaseflow
 * in a source tree (../lua) or PREFIX/bin/phaseflow when installed
 * (../share/phaseflow/lua). */
static void set_paths(lua_State *L)
{
    char exe[PATH_MAX], root[PATH_MAX + 64], probe[PATH_MAX + 64];
    const char *found = getenv("PHASEFLOW_LUA_DIR");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (!found && n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = {"/../lua", "/../share/phaseflow/lua", NULL};
        for (int i = 0; rel[i] && !found; i++) {
            snprintf(probe, sizeof probe, "%s%s/phaseflow/init.lua", exe, rel[i]);
            if (access(probe, R_OK) == 0) {
                snprintf(root, sizeof root, "%s%s", exe, rel[i]);
                found = root;
            }
        }
    }
    if (!found)
        return;
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", found, found, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

static int cpu_noop(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static void preload(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_phaseflow_core);
    lua_setfield(L, -2, "phaseflow.core");
    /* The executable already chose OpenBLAS's kernel before loading it (main). */
    lua_pushcfunction(L, cpu_noop);
    lua_setfield(L, -2, "phaseflow.cpu");
    lua_pop(L, 1);
    lua_pushlightuserdata(L, (void *)&interrupted);
    lua_setfield(L, LUA_REGISTRYINDEX, PF_INTERRUPT_KEY);
}

/* The global help(x) (phaseflow.repl's help, loaded on first use), in the REPL and in
 * scripts. */
static int help_global(lua_State *L)
{
    int n = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "phaseflow.repl");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "help");
    lua_insert(L, 1);
    lua_pop(L, 1);
    lua_call(L, n, 0);
    return 0;
}

static int define_pf(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushstring(L, "phaseflow");
    int status = docall(L, 1, 1);
    if (status == LUA_OK)
        lua_setglobal(L, "pf");
    return report(L, status);
}

static void print_version(lua_State *L)
{
    if (define_pf(L) != LUA_OK)
        return;
    (void)L;
    printf("phaseflow %s (git %s), %s\n", pf_version_string(), pf_git_commit(), LUA_RELEASE);
    printf("BLAS: %s; kernel %s\n", pf_blas_config(), pf_blas_corename());
    printf("threads: %d (OMP_NUM_THREADS)\n", pf_config_threads());
    char mpi[256];
    pf_mpi_library(mpi, sizeof mpi);
    printf("MPI: %s\n", mpi);
}

int main(int argc, char **argv)
{
    if (argv[0] && argv[0][0])
        progname = "phaseflow";
    /* OpenBLAS picked its kernel when it loaded, before main. If it needs to be told
     * (see src/cpu.c), set the variable and start again, once. */
    if (!getenv("PHASEFLOW_REEXEC") && pf_cpu_prepare_blas_env()) {
        setenv("PHASEFLOW_REEXEC", "1", 1);
        execv("/proc/self/exe", argv);
        /* If exec fails, run on with the kernel OpenBLAS chose. */
    }
    /* Under mpirun (or another launcher) join the MPI world; a plain run does nothing
     * here and starts as fast as without MPI. After the re-exec above: once per process. */
    pf_err merr;
    if (pf_mpi_init_if_launched(&merr) != PF_OK) {
        fprintf(stderr, "%s: %s\n", progname, merr.msg);
        return EXIT_FAILURE;
    }
    /* every way out (the early returns below, os.exit in a script) finalizes MPI */
    atexit(pf_mpi_finalize);
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "%s: cannot create a Lua state: not enough memory\n", progname);
        pf_mpi_abort(1);
        pf_mpi_finalize();
        return EXIT_FAILURE;
    }
    luaL_openlibs(L);
    preload(L);
    lua_pushcfunction(L, help_global);
    lua_setglobal(L, "help");
    set_paths(L);

    int script = 0, interactive = 0, strict = 1, has_e = 0, i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            script = i;
            break;
        }
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                script = i + 1;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_usage(stdout);
            lua_close(L);
            return EXIT_SUCCESS;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
            print_version(L);
            lua_close(L);
            return EXIT_SUCCESS;
        }
        if (strcmp(a, "-i") == 0) {
            interactive = 1;
        } else if (strcmp(a, "--no-strict") == 0) {
            strict = 0;
        } else if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
                print_usage(stderr);
                lua_close(L);
                return EXIT_FAILURE;
            }
            if (a[1] == 'e')
                has_e = 1;
            i++;
        } else {
            fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
            print_usage(stderr);
            lua_close(L);
            return EXIT_FAILURE;
        }
    }
    createargtable(L, argv, argc, script);

    int rc = EXIT_SUCCESS;
    if (has_e || !script) {
        if (define_pf(L) != LUA_OK) {
            lua_close(L);
            return EXIT_FAILURE;
        }
    }
    /* Run -e and -l in order. */
    for (i = 1; i < argc && (script == 0 || i < script); i++) {
        if (strcmp(argv[i], "-e") == 0) {
            if (dostring(L, argv[++i], "=(command line)") != LUA_OK) {
                rc = EXIT_FAILURE;
                break;
            }
        } else if (strcmp(argv[i], "-l") == 0) {
            if (dolibrary(L, argv[++i]) != LUA_OK) {
                rc = EXIT_FAILURE;
                break;
            }
        } else if (strcmp(argv[i], "--") == 0) {
            break;
        }
    }
    if (rc == EXIT_SUCCESS && script) {
        if (handle_script(L, argv[script], strict) != LUA_OK)
            rc = EXIT_FAILURE;
    }
    if (rc == EXIT_SUCCESS && (interactive || (!script && !has_e))) {
        if (interactive && script)
            define_pf(L);
        repl(L);
    }
    lua_close(L);
    pf_mpi_finalize();
    return rc;
}
