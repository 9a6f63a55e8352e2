//! Memory bounds of one guarded query: a per-query memory pool inside the session's shared one
//! ([`QueryPool`]), and bounded versions of the SQL functions whose output can be far larger
//! than their input (`repeat`, `lpad`, `replace`, `array_repeat`, `range`, …), which refuse
//! a batch whose output would pass the query's memory limit — or the 2 GiB a string array
//! can hold — before allocating it, instead of aborting the process or overflowing Arrow's
//! offsets.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, FieldRef, Int64Type};
use datafusion::error::DataFusionError;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

/// A query's share of the session's memory pool: at most `limit` bytes, and never more than
/// the shared pool grants.
#[derive(Debug)]
pub struct QueryPool {
    shared: Arc<dyn MemoryPool>,
    limit: usize,
    used: AtomicUsize,
}

impl QueryPool {
    pub fn new(shared: Arc<dyn MemoryPool>, limit: usize) -> QueryPool {
        QueryPool {
            shared,
            limit,
            used: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Display for QueryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "query pool of {} bytes in {}", self.limit, self.shared)
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        "query"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.shared.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.shared.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.shared.grow(reservation, additional);
        self.used.fetch_add(additional, Ordering::SeqCst);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.shared.shrink(reservation, shrink);
        self.used.fetch_sub(shrink, Ordering::SeqCst);
    }

    fn try_grow(
        &self,
        reservation: &MemoryReservation,
        additional: usize,
    ) -> Result<(), DataFusionError> {
        let before = self.used.fetch_add(additional, Ordering::SeqCst);
        if before.saturating_add(additional) > self.limit {
            self.used.fetch_sub(additional, Ordering::SeqCst);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "the query needs more than its memory limit of {} ({} more bytes asked by {})",
                size(self.limit as u64),
                additional,
                reservation.consumer().name()
            )));
        }
        if let Err(e) = self.shared.try_grow(reservation, additional) {
            self.used.fetch_sub(additional, Ordering::SeqCst);
            return Err(e);
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

/// A byte count as people read it.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// How a function's output grows with its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `repeat(s, n)`: |s| × n.
    Repeat,
    /// `lpad(s, n [, fill])`, `rpad`: up to 4 bytes per character of n, or |s|.
    Pad,
    /// `replace(s, from, to)`: every |from| bytes of s may become |to|.
    Replace,
    /// `regexp_replace(s, pattern, to [, flags])`: an (empty) match at every position, and
    /// group references in `to` of up to |s| each.
    RegexpReplace,
    /// `concat(a, …)`: the sum of the arguments; `concat_ws(sep, a, …)` the separator once per
    /// argument more.
    Concat,
    ConcatWs,
    /// `array_repeat(e, n)`: the element n times.
    ArrayRepeat,
    /// `range(stop)`, `range(start, stop [, step])`, `generate_series`: 8 bytes per value.
    Range,
}

/// The functions bounded, by name.
const BOUNDED: &[(&str, Growth)] = &[
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("replace", Growth::Replace),
    ("regexp_replace", Growth::RegexpReplace),
    ("concat", Growth::Concat),
    ("concat_ws", Growth::ConcatWs),
    ("array_repeat", Growth::ArrayRepeat),
    ("range", Growth::Range),
    ("generate_series", Growth::Range),
];

/// Replace the session's growing functions with bounded ones: a batch whose output would pass
/// `limit` bytes is an error.
pub fn register(ctx: &SessionContext, limit: usize) {
    for (name, growth) in BOUNDED {
        let Ok(inner) = ctx.udf(name) else { continue };
        let any: &dyn std::any::Any = inner.inner().as_ref();
        if any.is::<Bounded>() {
            continue;
        }
        // Volatile: never folded into a constant at planning, where the rows it will be
        // repeated over are unknown; each batch is bounded with its row count.
        let mut signature = inner.signature().clone();
        signature.volatility = Volatility::Volatile;
        ctx.register_udf(ScalarUDF::new_from_impl(Bounded {
            inner,
            signature,
            growth: *growth,
            limit,
        }));
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Bounded {
    inner: Arc<ScalarUDF>,
    signature: Signature,
    growth: Growth,
    limit: usize,
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType, DataFusionError> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef, DataFusionError> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>, DataFusionError> {
        self.inner.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue, DataFusionError> {
        let bytes = self.growth.bound(&args.args, args.number_rows)?;
        // Offsets of strings, binaries and lists are 32-bit: one array holds at most 2 GiB.
        let offsets = matches!(
            args.return_type(),
            DataType::Utf8 | DataType::Binary | DataType::List(_)
        );
        let cap = if offsets {
            self.limit.min(i32::MAX as usize)
        } else {
            self.limit
        } as u64;
        if bytes > cap {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{}() would make {} in one batch, more than the query's limit of {}",
                self.inner.name(),
                size(bytes),
                size(cap)
            )));
        }
        self.inner.invoke_with_args(args)
    }
}

impl Growth {
    /// An upper bound of the bytes the function makes of these arguments.
    fn bound(self, args: &[ColumnarValue], rows: usize) -> Result<u64, DataFusionError> {
        let len = |i: usize| per_row(args.get(i), rows, Measure::Length);
        let val = |i: usize| per_row(args.get(i), rows, Measure::Value);
        let rows_sum = |v: Vec<u64>| v.iter().fold(0u64, |a, b| a.saturating_add(*b));
        Ok(match self {
            Growth::Repeat => rows_sum(zip(len(0)?, val(1)?, |s, n| s.saturating_mul(n))),
            Growth::Pad => rows_sum(zip(len(0)?, val(1)?, |s, n| s.max(n.saturating_mul(4)))),
            Growth::Replace => {
                let grown = zip(len(0)?, len(1)?, |s, from| s / from.max(1) + 1);
                rows_sum(zip(grown, len(2)?, |n, to| n.saturating_mul(to)))
                    .saturating_add(rows_sum(len(0)?))
            }
            Growth::RegexpReplace => {
                let s = len(0)?;
                let grown = zip(s.clone(), len(2)?, |s, to| {
                    (s.saturating_mul(2) + 1).saturating_mul(to)
                });
                rows_sum(grown).saturating_add(rows_sum(s))
            }
            Growth::Concat => (0..args.len()).try_fold(0u64, |a, i| {
                Ok::<_, DataFusionError>(a.saturating_add(rows_sum(len(i)?)))
            })?,
            Growth::ConcatWs => Growth::Concat
                .bound(args, rows)?
                .saturating_add(rows_sum(len(0)?).saturating_mul(args.len() as u64)),
            Growth::ArrayRepeat => {
                let element = args.first().map_or(8, element_bytes).max(8);
                rows_sum(val(1)?).saturating_mul(element)
            }
            Growth::Range => {
                let (start, stop, step) = match args.len() {
                    1 => (vec![0; rows], val(0)?, vec![1; rows]),
                    2 => (val(0)?, val(1)?, vec![1; rows]),
                    _ => (val(0)?, val(1)?, val(2)?),
                };
                let n = zip(zip(start, stop, u64::abs_diff), step, |d, s| {
                    d / s.max(1) + 1
                });
                rows_sum(n).saturating_mul(8)
            }
        })
    }
}

#[derive(Clone, Copy)]
enum Measure {
    /// Bytes of a string or binary.
    Length,
    /// An integer (negative ones as 0).
    Value,
}

/// One number per row of an argument (a scalar repeated); nulls and what cannot be measured
/// count as 0.
fn per_row(
    arg: Option<&ColumnarValue>,
    rows: usize,
    measure: Measure,
) -> Result<Vec<u64>, DataFusionError> {
    let Some(arg) = arg else {
        return Ok(vec![0; rows]);
    };
    let (array, scalar) = match arg {
        ColumnarValue::Array(a) => (a.clone(), false),
        ColumnarValue::Scalar(s) => (s.to_array_of_size(1)?, true),
    };
    let numbers = measured(&array, measure);
    let values: Vec<u64> = match numbers {
        Some(n) => n
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.unwrap_or(0).max(0) as u64)
            .collect(),
        None => vec![0; array.len()],
    };
    Ok(if scalar {
        vec![values.first().copied().unwrap_or(0); rows]
    } else {
        values
    })
}

fn measured(array: &ArrayRef, measure: Measure) -> Option<ArrayRef> {
    let numbers = match measure {
        Measure::Length => arrow::compute::kernels::length::length(array).ok()?,
        Measure::Value => array.clone(),
    };
    arrow::compute::cast(&numbers, &DataType::Int64).ok()
}

/// The bytes of one element of an argument, on average.
fn element_bytes(arg: &ColumnarValue) -> u64 {
    match arg {
        ColumnarValue::Scalar(s) => s.size() as u64,
        ColumnarValue::Array(a) => (a.get_array_memory_size() / a.len().max(1)) as u64,
    }
}

fn zip(a: Vec<u64>, b: Vec<u64>, f: impl Fn(u64, u64) -> u64) -> Vec<u64> {
    a.into_iter().zip(b).map(|(a, b)| f(a, b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_count_every_row() {
        let s = ColumnarValue::Scalar(datafusion::common::ScalarValue::from("xy"));
        let n = ColumnarValue::Scalar(datafusion::common::ScalarValue::Int64(Some(1000)));
        assert_eq!(
            Growth::Repeat.bound(&[s.clone(), n.clone()], 3).unwrap(),
            6000
        );
        assert_eq!(Growth::Pad.bound(&[s.clone(), n.clone()], 1).unwrap(), 4000);
        assert_eq!(Growth::Range.bound(&[n], 1).unwrap(), 8008);
        assert_eq!(Growth::Concat.bound(&[s.clone(), s], 2).unwrap(), 8);
    }
}
