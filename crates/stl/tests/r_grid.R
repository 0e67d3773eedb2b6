# Generates the reference grid for tests/r_grid.rs: synthetic series decomposed by R's stl().
#
# Usage: Rscript --vanilla r_grid.R OUTDIR
#
# Writes OUTDIR/cases.tsv (one line per case: its parameters, and where its numbers start in
# data.bin) and OUTDIR/data.bin (little-endian doubles: for each case, n values of the series,
# then R's seasonal, trend, remainder and weights, n each). Binary so that no digit is lost.
#
# The grid: periods 2-60 and 144; 2-10 seasons, the length a whole number of periods (from 3
# seasons, since R needs more than two) and a length that is not; plain and robust;
# s.window "periodic" and numeric (several spans, s.degree 0 and 1). Every series has a level,
# a slope, a season, noise and outliers, some of them in the last period. A second, smaller
# set varies the other arguments (windows, degrees, jumps, inner/outer counts).

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1) stop("usage: Rscript --vanilla r_grid.R OUTDIR")
outdir <- args[1]

set.seed(20240522)

# One series of n points with the given period. `kind` varies the shape a little so the grid
# does not test one curve only; `quantised` rounds to integers, as counters often are, which
# makes ties among the remainders likely.
make_series <- function(n, period, kind, quantised) {
  i <- seq_len(n) - 1
  phase <- 2 * pi * (i %% period) / period
  level <- runif(1, -50, 500)
  slope <- runif(1, -0.5, 0.5) * 20 / n
  amp <- runif(1, 1, 30)
  season <- switch(kind,
    amp * sin(phase),
    amp * (sin(phase) + 0.5 * cos(2 * phase)),
    amp * ifelse((i %% period) < period / 3, 1, -0.5),
    amp * sin(phase) * (1 + i / n)
  )
  trend <- level + slope * i + runif(1, 0, 5) * sin(2 * pi * i / max(n / 2, 3))
  noise <- rnorm(n, sd = runif(1, 0.2, 3))
  x <- trend + season + noise
  # Outliers: a few anywhere, and often one in the last period, where the plugin looks.
  k <- 1 + n %/% 40
  at <- sample.int(n, k)
  if (runif(1) < 0.6) at <- c(at, n - sample.int(min(period, n), 1) + 1)
  x[at] <- x[at] + sample(c(-1, 1), length(at), replace = TRUE) * runif(length(at), 5, 40) * amp
  if (quantised) x <- round(x)
  x
}

cases <- list()
data <- list()
offset <- 0
add_case <- function(x, period, s_window, s_degree, robust, extra = list()) {
  n <- length(x)
  call_args <- c(list(ts(x, frequency = period), s.window = s_window, robust = robust),
                 if (!identical(s_window, "periodic")) list(s.degree = s_degree),
                 extra)
  fit <- do.call(stl, call_args)
  comp <- fit$time.series
  block <- c(x, comp[, "seasonal"], comp[, "trend"], comp[, "remainder"], fit$weights)
  stopifnot(length(block) == 5 * n, all(is.finite(block)))
  field <- function(name, default) if (is.null(extra[[name]])) default else extra[[name]]
  cases[[length(cases) + 1]] <<- data.frame(
    period = period, n = n,
    s_window = if (identical(s_window, "periodic")) 0L else as.integer(s_window),
    s_degree = s_degree, robust = as.integer(robust),
    t_window = field("t.window", -1L), t_degree = field("t.degree", -1L),
    l_window = field("l.window", -1L), l_degree = field("l.degree", -1L),
    s_jump = field("s.jump", -1L), t_jump = field("t.jump", -1L), l_jump = field("l.jump", -1L),
    inner = field("inner", -1L), outer = field("outer", -1L),
    offset = offset
  )
  data[[length(data) + 1]] <<- block
  offset <<- offset + length(block)
}

numeric_windows <- c(7, 4, 11, 3, 15, 35, 9, 13)
periods <- c(2:60, 144)
case_no <- 0
for (period in periods) {
  for (seasons in 2:10) {
    lengths <- period * seasons + sample.int(max(period - 1, 1), 1)
    if (seasons >= 3) lengths <- c(period * seasons, lengths)
    for (n in lengths) {
      for (robust in c(FALSE, TRUE)) {
        for (periodic in c(TRUE, FALSE)) {
          case_no <- case_no + 1
          x <- make_series(n, period, 1 + case_no %% 4, case_no %% 9 == 0)
          if (periodic) {
            add_case(x, period, "periodic", 0L, robust)
          } else {
            s_window <- numeric_windows[1 + case_no %% length(numeric_windows)]
            add_case(x, period, s_window, case_no %% 2, robust)
          }
        }
      }
    }
  }
}

# Other arguments away from their defaults, on fewer series.
for (k in 1:300) {
  period <- sample(c(2:60, 144), 1)
  n <- period * sample(2:8, 1) + sample(0:(period - 1), 1)
  if (n <= 2 * period) n <- 2 * period + 1
  x <- make_series(n, period, 1 + k %% 4, k %% 7 == 0)
  robust <- k %% 2 == 0
  periodic <- k %% 3 != 0
  s_window <- if (periodic) "periodic" else sample(3:41, 1)
  t_window <- sample(3:(3 * period + 20), 1)
  l_window <- sample(3:(2 * period + 10), 1)
  extra <- list(t.window = t_window, l.window = l_window, t.degree = sample(0:1, 1),
                l.degree = sample(0:1, 1),
                s.jump = sample(1:12, 1), t.jump = sample(1:(t_window %/% 3 + 2), 1),
                l.jump = sample(1:(l_window %/% 3 + 2), 1),
                inner = sample(1:3, 1), outer = if (robust) sample(1:6, 1) else 0L)
  add_case(x, period, s_window, sample(0:1, 1), robust, extra)
}

write.table(do.call(rbind, cases), file.path(outdir, "cases.tsv"), sep = "\t",
            row.names = FALSE, quote = FALSE)
con <- file(file.path(outdir, "data.bin"), "wb")
writeBin(unlist(data), con, size = 8, endian = "little")
close(con)
cat(sprintf("r_grid.R: %d cases, %d numbers\n", length(cases), offset))
