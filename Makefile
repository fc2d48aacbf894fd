# initlab — the two commands of the README are `make run` and `make test`.
# Both obtain libtorch on first use (scripts/setup-libtorch.sh, cached under ~/.cache/initlab).

CARGO ?= cargo
SETUP := scripts/setup-libtorch.sh
BIN := target/release/initlab

## Where `make install` puts initlab: $(DESTDIR)$(PREFIX)/bin and $(DESTDIR)$(PREFIX)/share/….
PREFIX ?= $(HOME)/.local
DESTDIR ?=
COMPLETIONS := bash:share/bash-completion/completions/initlab zsh:share/zsh/site-functions/_initlab \
	fish:share/fish/vendor_completions.d/initlab.fish

.PHONY: all setup build run lab dbn test lint fmt clippy bench profile bench-rbm reference parity examples clean \
	install uninstall install-check check-report-html compare-python bench-busy book notebooks notebooks-lab

all: build

setup:
	@$(SETUP)

build: setup
	$(CARGO) build --release

## The main job: the lab's five runs (a DBN pretrained first), compare.png and report.md under runs/lab/.
run lab: build
	./target/release/initlab lab

## The binary into $(PREFIX)/bin (default ~/.local/bin) and its shell completions under $(PREFIX)/share.
## Reuses the release build when it is up to date. The installed binary finds libtorch through an
## rpath to the cached libtorch (~/.cache/initlab/…) and carries MNIST inside (unpacked into
## $${XDG_DATA_HOME:-~/.local/share}/initlab/mnist on first use), so the checkout may go.
install: build
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 755 $(BIN) "$(DESTDIR)$(PREFIX)/bin/initlab"
	@set -e; for c in $(COMPLETIONS); do \
	  shell=$${c%%:*}; file="$(DESTDIR)$(PREFIX)/$${c#*:}"; \
	  install -d "$$(dirname "$$file")"; \
	  $(BIN) completions $$shell > "$$file.tmp"; mv "$$file.tmp" "$$file"; \
	  echo "installed $$file"; done
	@echo "installed $(DESTDIR)$(PREFIX)/bin/initlab; check it with: initlab doctor"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "note: $(PREFIX)/bin is not on your PATH";; esac

uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/bin/initlab"
	@for c in $(COMPLETIONS); do rm -f "$(DESTDIR)$(PREFIX)/$${c#*:}"; done

## make install into a temporary PREFIX, then the installed initlab run from / with the checkout
## hidden (≈30 s once built; part of .ci/run).
install-check:
	scripts/install-check.sh

examples: setup
	$(CARGO) build --release --examples

## Unit and integration tests (release mode: training smoke runs need optimised code).
test: setup
	$(CARGO) test --release

fmt:
	$(CARGO) fmt --check

clippy: setup
	$(CARGO) clippy --release --all-targets -- -D warnings

lint: fmt clippy

## Every performance ratio in one run (scripts/bench.sh): training GFLOP/s against the best sgemm,
## whole processes against PyTorch 2.13 (tools/reference/.venv when made), peak memory, and an RBM
## epoch against scikit-learn; a summary table against the goals at the end. EPOCHS (5), REPS (2).
bench: setup
	CARGO="$(CARGO)" scripts/bench.sh

## Where a training step's time and an RBM epoch's go, phase by phase (Markdown tables, as in build-notes.md).
profile: setup
	$(CARGO) run --release --example profile_step
	$(CARGO) run --release --example profile_rbm

## A shallow, a deep and an RBM epoch quiet, beside two `yes` and beside two other trainings, under
## initlab's libgomp wait setting and libgomp's default (scripts/bench-busy.sh, ≈10 min; REPS=3).
bench-busy: build
	scripts/bench-busy.sh

## Hinton et al.'s 784-500-500-2000-10 DBN against Xavier, LeCun-normal and He-normal starts of the same sigmoid
## net and cosine schedule (initlab study dbn): each of 3 seeds pretrains its own stack (20 epochs of CD-1 per RBM)
## and fine-tunes it; each init's Adam learning rate is chosen on a 10,000-image validation split by a sweep of
## 3e-4, 1e-3, 3e-3 (first seed). ≈39 min of 2-core time (from its own runs measured on a quiet 2-core Xeon;
## --jobs 1: one run at a time with both threads). `initlab study dbn --full`: 5 seeds, 30 epochs (≈1 h 15 min).
dbn: build
	./target/release/initlab study dbn --jobs 1

## One CD-1 epoch of a 512-hidden RBM over 60k images, against scikit-learn's BernoulliRBM when installed.
bench-rbm: setup
	$(CARGO) run --release --example bench_rbm

## The three notebook examples against PyTorch 2.13's output, line by line, for every oneMKL
## dispatch this CPU can tell apart (≈1 min on an Intel CPU with AVX-512: two golden sets).
parity: setup
	scripts/parity.sh

## The lab's Rust notebooks (notebooks/, evcxr Jupyter kernel) executed headless; their printed lines
## must equal the examples' golden files. Installs evcxr_jupyter and Jupyter's runner under
## ~/.cache/initlab on first use (scripts/notebooks.sh).
notebooks: setup
	scripts/notebooks.sh

## The same set-up plus JupyterLab, opened on notebooks/.
notebooks-lab: setup
	scripts/notebooks.sh lab

## A notebook in your own Python (PYTHON=…, else tools/reference/.venv, else python3; PyTorch 2.13.0)
## and its Rust port side by side, the first differing line marked; exit 0 only when identical.
## NOTEBOOK=lab09_3_mnist_nn_xavier (default), lab09_2_mnist_nn, lab09_4_mnist_nn_deep or all.
compare-python: setup
	PYTHON="$(PYTHON)" NOTEBOOK="$(NOTEBOOK)" scripts/compare-python.sh

## report.html of a tiny compare in headless Chromium (apt-get installs chromium-headless-shell if missing).
check-report-html: build
	scripts/check-report-html.sh

## The guide (book/en, book/ko) into target/book/{en,ko}. mdBook is installed once, without root, into
## $(MDBOOK_ROOT) (a pinned version, without its server and file watcher) when it is missing or another version.
MDBOOK_VERSION := 0.5.4
MDBOOK_ROOT ?= $(HOME)/.cache/initlab/tools
MDBOOK := $(MDBOOK_ROOT)/bin/mdbook
book:
	@if ! "$(MDBOOK)" --version 2>/dev/null | grep -qx "mdbook v$(MDBOOK_VERSION)"; then \
	  echo "installing mdBook $(MDBOOK_VERSION) into $(MDBOOK_ROOT) (once)"; \
	  $(CARGO) install mdbook --version $(MDBOOK_VERSION) --locked --no-default-features --features search \
	    --root "$(MDBOOK_ROOT)"; fi
	"$(MDBOOK)" build book/en
	"$(MDBOOK)" build book/ko
	@echo "open target/book/en/index.html (한국어: target/book/ko/index.html)"

## Golden files from real PyTorch 2.13 (a venv of about 4.8 GB under tools/reference/.venv).
reference:
	tools/reference/run.sh

clean:
	$(CARGO) clean
	rm -rf runs
