//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0), the platform-free half: what a
//! logout ended ([`event`]), which relying parties get which logout token ([`plan`]), what the token says ([`token`]), and how
//! a delivery's answer is judged and when a failed delivery is tried again ([`retry`]), and how
//! a delivery is handed to the queue with its record ([`queued`]), and what the dead-letter
//! queue's consumer does ([`dead_letter`]). The delivery policy ([`delivery`]): what one call
//! to the runtime's signer-and-POSTer carries, what its answers mean, what is logged and what
//! comes after each attempt. The worker layer only makes the crossings; `state::deliveries` keeps what has not succeeded yet.

pub mod dead_letter;
pub mod delivery;
pub mod event;
pub mod plan;
pub mod queued;
pub mod retry;
pub mod token;
