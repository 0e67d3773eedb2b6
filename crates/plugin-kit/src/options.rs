//! [`series_options!`](crate::series_options): the options of a detector of one metric
//! (Novelty, ARTime, ContextOSE, Ensemble), declared once with their defaults.

/// Declares the options of a detector of one metric: `metric` (required, first), the fields
/// given, and `backfill` (last; 7 days), with serde's `default` and `deny_unknown_fields`,
/// and `Default`. A field defaults to its `= expression` when given, else to the same field
/// of the model's default parameters, `$params` (bound to `$p`, which the expressions may
/// use too): the plugin's defaults are its model's, written once.
///
/// ```ignore
/// am_plugin_kit::series_options! {
///     /// The options of one service.
///     pub struct Options(p = Params::default()) {
///         /// Points learned before any score. Default 750.
///         pub probation: usize,
///         /// Score that flags a detection. Default 0.34.
///         pub threshold: f64 = THRESHOLD,
///     }
/// }
/// ```
#[macro_export]
macro_rules! series_options {
    (@default $p:ident . $field:ident) => {
        $p.$field
    };
    (@default $p:ident . $field:ident, $default:expr) => {
        $default
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident ($p:ident = $params:expr) {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident : $ty:ty $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// The metric to watch, by its exact name. Required.
            pub metric: String,
            $(
                $(#[$field_meta])*
                pub $field: $ty,
            )*
            /// On the first run (or when the model is lost), how far back to learn from, in
            /// seconds. Default 604800.
            pub backfill: i64,
        }

        impl Default for $name {
            /// Every option at its default; `metric` empty (it must be given).
            fn default() -> Self {
                let $p = $params;
                $name {
                    metric: String::new(),
                    $($field: $crate::series_options!(@default $p.$field $(, $default)?),)*
                    backfill: 7 * 86400,
                }
            }
        }
    };
}
