# Reference for exit-assessment.md §3 (version 2) with R's survey package: per county, the
# three rates with their Taylor variances (svyratio), the incidence and its variance with the
# covariance of its two rates (svyratio covmat = TRUE + svycontrast), and the Korn–Graubard
# bounds of the spec computed here from those variances with R's own qt and qbeta; plus
# svyciprop(method = "beta") for approval (a plain proportion), to show where the spec agrees
# with it and where it deliberately differs (n for p = 0 or 1, truncation at n).
#
# Rscript kg_assessment.R SAMPLE.csv FRAME.csv LEVEL  →  CSV on stdout, one row per county,
# numbers with 17 significant digits, NA where the spec says empty.
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "adjust")

args <- commandArgs(trailingOnly = TRUE)
sample <- read.csv(args[1], colClasses = c(county_code = "character", village_code = "character"))
frame <- read.csv(args[2], colClasses = c(county_code = "character"))
level <- as.numeric(args[3])
alpha <- 1 - level

sample$err_y <- ifelse(sample$sample_type == 1 & !is.na(sample$wrongly_exited) &
                       sample$wrongly_exited == 1, sample$persons, 0)
sample$err_x <- ifelse(sample$sample_type == 1, sample$persons, 0)
sample$miss_y <- ifelse(sample$sample_type == 3, sample$missed_persons, 0)
sample$miss_x <- ifelse(sample$sample_type == 3, sample$persons, 0)
sample$approves <- as.numeric(sample$approval %in% c(1, 2))

# exit-assessment.md §3, from a rate p, its variance v, its domain size n and df.
kg <- function(p, v, n, df) {
    base <- if (p > 0 && p < 1 && v > 0) p * (1 - p) / v else n
    n_eff <- if (n >= 2) base * (qt(1 - alpha / 2, n - 1) / qt(1 - alpha / 2, df))^2 else base
    n_eff <- min(n, n_eff)
    low <- if (p == 0) 0 else qbeta(alpha / 2, n_eff * p, n_eff * (1 - p) + 1)
    high <- if (p == 1) 1 else qbeta(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p))
    deff <- if (p > 0 && p < 1 && v > 0) v * n / (p * (1 - p)) else NA
    c(low = low, high = high, n_eff = n_eff, deff = deff)
}

fmt <- function(x) ifelse(is.na(x) | is.nan(x), "NA", sprintf("%.17g", x))
out <- list()
for (county in sort(unique(sample$county_code))) {
    d <- sample[sample$county_code == county, ]
    f <- frame[frame$county_code == county, ]
    psus <- length(unique(d$village_code))
    strata <- length(unique(d$stratum))
    if (psus < 2) next
    df <- max(psus - strata, 1)
    des <- svydesign(ids = ~village_code, strata = ~stratum, weights = ~weight, data = d)
    r <- svyratio(~err_y + miss_y, ~err_x + miss_x, des, covmat = TRUE)
    p_err <- coef(r)[["err_y/err_x"]]
    p_miss <- coef(r)[["miss_y/miss_x"]]
    v_err <- vcov(r)["err_y/err_x", "err_y/err_x"]
    v_miss <- vcov(r)["miss_y/miss_x", "miss_y/miss_x"]
    a <- svyratio(~approves, ~I(rep(1, nrow(d))), des)
    p_appr <- as.numeric(coef(a))
    v_appr <- as.numeric(vcov(a))
    k_err <- kg(p_err, v_err, sum(d$sample_type == 1), df)
    k_miss <- kg(p_miss, v_miss, sum(d$sample_type == 3), df)
    k_appr <- kg(p_appr, v_appr, nrow(d), df)
    pop <- f$rural_population
    inc <- svycontrast(r, list(inc = c("err_y/err_x" = f$n_exited / pop,
                                       "miss_y/miss_x" = f$n_nonreg / pop)))
    inc_pct <- (f$n_remaining + p_err * f$n_exited + p_miss * f$n_nonreg) / pop
    inc_low <- (f$n_remaining + k_err[["low"]] * f$n_exited + k_miss[["low"]] * f$n_nonreg) / pop
    inc_high <- (f$n_remaining + k_err[["high"]] * f$n_exited + k_miss[["high"]] * f$n_nonreg) / pop
    # svyciprop's own Korn–Graubard interval for approval (untruncated, NaN when v = 0).
    ci <- suppressWarnings(confint(svyciprop(~I(approval %in% c(1, 2)), des, method = "beta",
                                             level = level)))
    row <- c(
        100 * c(p_err, sqrt(v_err), k_err[["low"]], k_err[["high"]]), k_err[["deff"]], k_err[["n_eff"]],
        100 * c(p_miss, sqrt(v_miss), k_miss[["low"]], k_miss[["high"]]), k_miss[["deff"]], k_miss[["n_eff"]],
        100 * c(p_appr, sqrt(v_appr), k_appr[["low"]], k_appr[["high"]]), k_appr[["deff"]], k_appr[["n_eff"]],
        100 * c(inc_pct, sqrt(as.numeric(vcov(inc))), inc_low, inc_high),
        100 * c(ci[1], ci[2]), nrow(d)
    )
    out[[length(out) + 1]] <- paste(c(county, fmt(row)), collapse = ",")
}
cat("county_code",
    paste0(rep(c("wrong_exit", "missed", "approval"), each = 6),
           c("_pct", "_se", "_ci_low", "_ci_high", "_deff", "_n_eff")),
    "incidence_pct", "incidence_se", "incidence_ci_low", "incidence_ci_high",
    "svyciprop_low", "svyciprop_high", "n", sep = ",")
cat("\n")
cat(unlist(out), sep = "\n")
cat("\n")
