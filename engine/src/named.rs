//! Enums of named choices (a build, a migrate mode, a workload, a
//! strategy, a kernel file system): one list of variants and their names
//! gives `ALL`, `name()`, `Display` and a `FromStr` whose error lists the
//! choices, so the names a user types are written once.

/// `named_choices!(Build, "build", { Locked => "locked", Lockless => "lockless" })`
#[macro_export]
macro_rules! named_choices {
    ($t:ident, $what:literal, { $($v:ident => $n:literal),+ $(,)? }) => {
        impl $t {
            pub const ALL: [$t; [$($n),+].len()] = [$($t::$v),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($t::$v => $n),+
                }
            }
        }

        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> ::std::result::Result<Self, String> {
                $t::ALL.into_iter().find(|x| x.name() == s).ok_or_else(|| {
                    format!(
                        "unknown {} '{s}' (expected {})",
                        $what,
                        $crate::named::either(&[$($n),+])
                    )
                })
            }
        }
    };
}

/// "a, b or c".
pub fn either(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Fruit {
        Apple,
        BloodOrange,
    }
    named_choices!(Fruit, "fruit", { Apple => "apple", BloodOrange => "blood-orange" });

    #[test]
    fn names_parse_print_and_refuse_with_the_choices() {
        assert_eq!(Fruit::ALL, [Fruit::Apple, Fruit::BloodOrange]);
        assert_eq!("blood-orange".parse::<Fruit>(), Ok(Fruit::BloodOrange));
        assert_eq!(Fruit::Apple.to_string(), "apple");
        assert_eq!(
            "pear".parse::<Fruit>(),
            Err("unknown fruit 'pear' (expected apple or blood-orange)".to_string())
        );
        assert_eq!(super::either(&["a", "b", "c"]), "a, b or c");
    }
}
