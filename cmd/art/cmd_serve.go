package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/artvcs/art/repo"
	"github.com/artvcs/art/repo/remote"
	"github.com/artvcs/art/repo/remote/httpremote"
)

type serveOptions struct {
	addr          string
	tokenFile     string
	root          string
	anonymousRead bool
	open          bool
	maxObject     string
}

// defaultMaxObject bounds one upload to art serve. A push sends packs of
// about 16 MiB, but a file stored whole (a repository made with
// --no-chunking) travels as one pack of its own size.
const defaultMaxObject = "64GiB"

// parseByteSize reads a size such as 1048576, 512K, 64MiB or 2G (units of
// 1024).
func parseByteSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B"), "I")
	shift := 0
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			shift, t = 10*(i+1), t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with K, M, G or T)", s)
	}
	return n << shift, nil
}

func (a *app) newServeCommand() *cobra.Command {
	var opts serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a remote store over HTTP for art push, pull and fetch",
		Long: `Serve a remote store over HTTP, so a team can push to and pull from one
machine with ` + "`art remote add NAME http://HOST:PORT`" + `. The store is the
directory --root (default: served/ inside this repository's .art directory);
it has the layout of a directory remote.

Clients authenticate with bearer tokens (ART_TOKEN on the client side). The
token file has one token per line, "read TOKEN" or "write TOKEN" (tokens of
at least 16 characters, # comments), and must not be readable by other
users. Tokens are compared in constant time and never logged. Request sizes
are bounded; every object is hashed and every chunk list and ref document
checked before it is stored; ref documents move only by compare-and-swap.

Without TLS a token crosses the network in clear: off a trusted network,
put the server behind a TLS proxy.`,
		Example: "  art serve --addr 0.0.0.0:8080 --token-file /etc/art/tokens\n  art serve --open   # no tokens; 127.0.0.1 only",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.tokenFile == "" && !opts.open {
				return usagef(cmd, "give --token-file, or --open for a server without tokens on 127.0.0.1")
			}
			if opts.tokenFile != "" && opts.open {
				return usagef(cmd, "--open and --token-file exclude each other")
			}
			if _, err := parseByteSize(opts.maxObject); err != nil {
				return usagef(cmd, "--max-object-size: %v", err)
			}
			return a.runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	f.StringVar(&opts.tokenFile, "token-file", "", "accept the bearer tokens in `FILE`")
	f.StringVar(&opts.root, "root", "", "serve the remote store in `DIR` (default: .art/served of this repository)")
	f.BoolVar(&opts.anonymousRead, "anonymous-read", false, "let requests without a token read")
	f.BoolVar(&opts.open, "open", false, "accept every request without a token (only on a loopback address)")
	f.StringVar(&opts.maxObject, "max-object-size", defaultMaxObject, "refuse uploads larger than `SIZE` (bytes, or with K, M, G, T)")
	return cmd
}

func (a *app) runServe(ctx context.Context, opts serveOptions) error {
	root := opts.root
	if root == "" {
		r, err := a.openRepo(ctx)
		if err != nil {
			return fmt.Errorf("%w (or give --root DIR)", err)
		}
		root = filepath.Join(r.Dir(), "served")
		r.Close()
	}
	root = a.abs(root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	maxObject, err := parseByteSize(opts.maxObject)
	if err != nil {
		return err
	}
	t, err := remote.Open(ctx, root)
	if err != nil {
		return err
	}
	defer t.Close()
	hopts := httpremote.HandlerOptions{
		AllowAnonymousRead: opts.anonymousRead,
		AllowOpen:          opts.open,
		Verify:             repo.UploadVerifier(t),
		MaxRefSize:         16 << 20,
		MaxObjectSize:      maxObject,
	}
	if opts.open {
		if err := httpremote.CheckLoopback(opts.addr); err != nil {
			return err
		}
	} else {
		if hopts.Tokens, err = httpremote.LoadTokens(opts.tokenFile); err != nil {
			return err
		}
	}
	h, err := httpremote.NewHandler(repo.ServedStore(t), hopts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.addr)
	if err != nil {
		return err
	}
	srv := httpremote.NewServer(opts.addr, h)
	a.printf("serving %s on http://%s\n", root, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		return srv.Close()
	}
}
