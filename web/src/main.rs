//! The page's entry point: mounts the root component into `<body>`.

fn main() {
    #[cfg(target_arch = "wasm32")]
    yew::Renderer::<lbplay_web::app::App>::new().render();
}
