//! Dual-vigilance fuzzy ART (DVFA), the clustering at ARTime's core, in the form ARTime uses
//! it: complement-coded features, a match `M = (|x ∧ w| / |w|)³ · e²` where `e` is the match
//! on the newest value alone (the "energy"), categories learned by fast commit (`w ← x ∧ w`).
//! Two vigilances: a category matching at `rho_ub` or better learns the sample; else the
//! best one matching at `rho_lb` or better gets a new category joined to its cluster; else the
//! sample opens a new cluster — ARTime's "new category" signal.
//!
//! Weights are `f64`, to reproduce the published scores exactly.

/// The result of presenting one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Presented {
    /// The best match `M` over all categories (0 when there is none).
    pub sim: f64,
    /// The energy similarity of that best category.
    pub energy: f64,
    /// The sample opened a new cluster (or was presented without learning).
    pub new_cluster: bool,
}

/// The network. `dim` is the feature count before complement coding.
#[derive(Debug, Clone, PartialEq)]
pub struct Dvfa {
    /// Feature count (the complement-coded sample has twice as many values).
    pub dim: usize,
    /// Upper vigilance: a category matching at least this well learns the sample.
    pub rho_ub: f64,
    /// Lower vigilance: below it, the sample opens a new cluster.
    pub rho_lb: f64,
    /// Category weights, `2 · dim` per category, concatenated.
    pub weights: Vec<f64>,
    /// When each category last won or was created (sample count), for eviction at the cap.
    pub used: Vec<u64>,
    /// Samples presented.
    pub presented: u64,
    /// Most categories kept; past it the least recently used one is replaced.
    pub cap: usize,
    /// Categories evicted at the cap.
    pub evicted: u64,
}

impl Dvfa {
    /// An empty network (no category yet).
    pub fn new(dim: usize, cap: usize) -> Self {
        Dvfa {
            dim,
            rho_ub: 0.0,
            rho_lb: 0.0,
            weights: Vec::new(),
            used: Vec::new(),
            presented: 0,
            cap: cap.max(2),
            evicted: 0,
        }
    }

    /// Categories held.
    pub fn categories(&self) -> usize {
        self.used.len()
    }

    fn push_category(&mut self, w: &[f64]) {
        if self.used.len() >= self.cap {
            // Replace the least recently used category (never reached on NAB's files with
            // the default cap; it keeps the state bounded on endless series).
            let (lru, _) = self
                .used
                .iter()
                .enumerate()
                .min_by_key(|(_, u)| **u)
                .unwrap_or((0, &0));
            let d = 2 * self.dim;
            self.weights[lru * d..(lru + 1) * d].copy_from_slice(w);
            self.used[lru] = self.presented;
            self.evicted += 1;
            return;
        }
        self.weights.extend_from_slice(w);
        self.used.push(self.presented);
    }

    /// Presents one sample (`dim` features in [0, 1]); learns it when `learn`.
    pub fn present(&mut self, features: &[f64], learn: bool) -> Presented {
        let d = 2 * self.dim;
        let mut x = Vec::with_capacity(d);
        x.extend_from_slice(features);
        x.extend(features.iter().map(|v| 1.0 - v));
        self.presented += 1;
        if self.used.is_empty() {
            // The first sample only creates the all-ones category (as the reference does):
            // it is neither matched nor learned.
            self.weights.extend(std::iter::repeat_n(1.0, d));
            self.used.push(self.presented);
            return Presented {
                sim: 0.0,
                energy: 0.0,
                new_cluster: false,
            };
        }
        let n = self.categories();
        let ei = self.dim - 1;
        let mut m = Vec::with_capacity(n);
        let mut me = Vec::with_capacity(n);
        for j in 0..n {
            let w = &self.weights[j * d..(j + 1) * d];
            let mut num = 0.0;
            let mut nw = 0.0;
            for k in 0..d {
                num += x[k].min(w[k]);
                nw += w[k];
            }
            if nw == 0.0 {
                nw = 0.001;
            }
            let fs = num / nw;
            let eme = x[ei].min(w[ei]) + x[d - 1].min(w[d - 1]);
            let we = w[ei] + w[d - 1];
            let es = eme / we;
            m.push(fs * fs * fs * es * es);
            me.push(es);
        }
        // Descending match; a stable order among ties (they do not change the outcome).
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| {
            m[*b]
                .partial_cmp(&m[*a])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut best = 0.0;
        let mut best_e = 0.0;
        let mut mismatch = true;
        let mut grow: Option<Vec<f64>> = None;
        for &j in &order {
            if m[j] > best {
                best = m[j];
                best_e = me[j];
            }
            if !learn {
                continue;
            }
            if m[j] >= self.rho_ub {
                for (w, xv) in self.weights[j * d..(j + 1) * d].iter_mut().zip(&x) {
                    *w = xv.min(*w);
                }
                self.used[j] = self.presented;
                mismatch = false;
            } else if m[j] >= self.rho_lb && mismatch {
                grow = Some(x.clone());
                mismatch = false;
                break;
            } else {
                break;
            }
        }
        if let Some(w) = grow {
            self.push_category(&w);
        }
        if mismatch && learn {
            self.push_category(&x);
        }
        Presented {
            sim: best,
            energy: best_e,
            new_cluster: mismatch,
        }
    }
}
