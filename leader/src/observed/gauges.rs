//! The gauge data of each observed report, read from its metadata (the annotations of
//! [`common::reports::gauge`] and the resource labels), so that `/metrics` needs no listing
//! of the reports. Image labels are shared by all reports of an image.

use std::collections::HashSet;
use std::sync::Arc;

use common::labels;
use common::reports::gauge::{Counts, IMAGE, Image, SUMMARY};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// What `trivy_image_vulnerabilities` needs of a VulnerabilityReport besides its name
/// (kept small: one per report, tens of thousands in a large cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulnGauge {
    pub resource_kind: Box<str>,
    pub resource_name: Box<str>,
    /// Critical, high, medium, low, unknown.
    pub counts: [u32; 5],
    pub image: Arc<Image>,
}

/// What `trivy_resource_configaudits` needs of a ConfigAuditReport besides its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditGauge {
    pub resource_kind: Box<str>,
    pub resource_name: Box<str>,
    /// Critical, high, medium, low.
    pub counts: [u32; 4],
}

fn small(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn get<'a>(
    map: &'a Option<std::collections::BTreeMap<String, String>>,
    key: &str,
) -> Option<&'a str> {
    map.as_ref()?.get(key).map(String::as_str)
}

/// The resource name: its label, or (too long for a label) the annotation of the same key.
fn resource_name(meta: &ObjectMeta) -> Box<str> {
    get(&meta.labels, labels::RESOURCE_NAME)
        .or_else(|| get(&meta.annotations, labels::RESOURCE_NAME_ANNOTATION))
        .unwrap_or("")
        .into()
}

fn resource_kind(meta: &ObjectMeta) -> Box<str> {
    get(&meta.labels, labels::RESOURCE_KIND)
        .unwrap_or("")
        .into()
}

/// The gauge data of a VulnerabilityReport, if it carries it.
pub fn vuln_gauge(meta: &ObjectMeta) -> Option<Box<VulnGauge>> {
    let c = Counts::parse(get(&meta.annotations, SUMMARY)?)?;
    let image = Image::parse(get(&meta.annotations, IMAGE)?)?;
    Some(Box::new(VulnGauge {
        resource_kind: resource_kind(meta),
        resource_name: resource_name(meta),
        counts: [c.critical, c.high, c.medium, c.low, c.unknown.unwrap_or(0)].map(small),
        image: Arc::new(image),
    }))
}

/// The gauge data of a ConfigAuditReport, if it carries it.
pub fn audit_gauge(meta: &ObjectMeta) -> Option<Box<AuditGauge>> {
    let c = Counts::parse(get(&meta.annotations, SUMMARY)?)?;
    Some(Box::new(AuditGauge {
        resource_kind: resource_kind(meta),
        resource_name: resource_name(meta),
        counts: [c.critical, c.high, c.medium, c.low].map(small),
    }))
}

/// One copy of each image's labels, shared by its reports.
#[derive(Debug, Default)]
pub struct ImagePool(HashSet<Arc<Image>>);

impl ImagePool {
    /// The shared copy of `image`.
    pub fn intern(&mut self, image: &Arc<Image>) -> Arc<Image> {
        if let Some(shared) = self.0.get(image) {
            return shared.clone();
        }
        self.0.insert(image.clone());
        image.clone()
    }

    /// Keeps only the images still in use (called when the pool has grown).
    pub fn retain_used(&mut self) {
        self.0.retain(|i| Arc::strong_count(i) > 1);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn meta(annotations: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            labels: Some(BTreeMap::from([
                (labels::RESOURCE_KIND.to_owned(), "ReplicaSet".to_owned()),
                (labels::RESOURCE_NAME.to_owned(), "web".to_owned()),
            ])),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn gauges_are_read_from_metadata_and_images_shared() {
        let m = meta(&[
            (SUMMARY, "1,2,3,4,5"),
            (IMAGE, "index.docker.io|library/nginx|1.16|"),
        ]);
        let g = vuln_gauge(&m).unwrap();
        assert_eq!(&*g.resource_kind, "ReplicaSet");
        assert_eq!(&*g.resource_name, "web");
        assert_eq!(g.counts, [1, 2, 3, 4, 5]);
        assert_eq!(g.image.repository, "library/nginx");
        assert!(vuln_gauge(&meta(&[(SUMMARY, "1,2,3,4,5")])).is_none());
        assert!(vuln_gauge(&meta(&[(SUMMARY, "x"), (IMAGE, "a|b|c|d")])).is_none());
        let audit = audit_gauge(&meta(&[(SUMMARY, "0,1,0,2")])).unwrap();
        assert_eq!(audit.counts, [0, 1, 0, 2]);
        assert!(audit_gauge(&meta(&[])).is_none());

        let mut pool = ImagePool::default();
        let a = pool.intern(&g.image);
        let b = pool.intern(&vuln_gauge(&m).unwrap().image);
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b, g));
        pool.retain_used();
        assert_eq!(pool.len(), 0);
    }
}
