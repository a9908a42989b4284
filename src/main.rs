fn main() {
    println!("lvsdeck");
}
