//! IPVS: placeholder, being written (issue 5).
