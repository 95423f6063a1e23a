//! What a scan Job runs Trivy for: the outputs besides the vulnerabilities (exposed
//! secrets, an SBOM), or the scan of a stored SBOM instead of the image; named on the Job so
//! that a Job made for other scanners is never adopted.

/// What a scan Job produces besides the vulnerabilities: exposed secrets (Trivy's secret
/// scanner, in the same pass over the image) and a CycloneDX SBOM (an init container,
/// whose analysis of the layers the scan container then reuses from the shared cache); or,
/// `from_bom`, the vulnerabilities of a stored SBOM (`trivy sbom`, no image pulled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanners {
    pub secret: bool,
    pub sbom: bool,
    pub from_bom: bool,
}

impl Scanners {
    /// Vulnerabilities only.
    pub const VULN: Self = Self {
        secret: false,
        sbom: false,
        from_bom: false,
    };
    /// Vulnerabilities and exposed secrets.
    pub const VULN_SECRET: Self = Self {
        secret: true,
        sbom: false,
        from_bom: false,
    };
    /// The vulnerabilities of the stored SBOM mounted at [`super::bom::BOM_PATH`].
    pub const FROM_BOM: Self = Self {
        secret: false,
        sbom: false,
        from_bom: true,
    };

    /// The value of Trivy's `--scanners` for the scan container.
    pub fn as_arg(self) -> &'static str {
        if self.secret { "vuln,secret" } else { "vuln" }
    }

    /// The value of [`super::job::SCANNERS_ANNOTATION`]: `--scanners`, plus `;sbom` with an SBOM, or
    /// `;from-sbom` for a scan of a stored SBOM.
    pub fn annotation(self) -> String {
        match (self.from_bom, self.sbom) {
            (true, _) => format!("{};from-sbom", self.as_arg()),
            (false, true) => format!("{};sbom", self.as_arg()),
            (false, false) => self.as_arg().to_owned(),
        }
    }

    /// The outputs of a task that does (or does not) want exposed secrets and an SBOM.
    pub fn of(secret: bool, sbom: bool) -> Self {
        Self {
            secret,
            sbom,
            from_bom: false,
        }
    }
}
