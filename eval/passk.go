package eval

// PassAtK is the unbiased estimator of pass@k from n samples of which c passed:
// 1 - C(n-c, k) / C(n, k). It is computed as lcb_runner (and the Codex paper)
// does, 1 - Π_{i=n-c+1}^{n} (1 - k/i), which never forms a binomial coefficient
// and so stays exact where C(n, k) would overflow a float.
func PassAtK(n, c, k int) float64 {
	if n <= 0 || k <= 0 || c < 0 {
		return 0
	}
	c = min(c, n)
	if n-c < k {
		return 1
	}
	p := 1.0
	for i := n - c + 1; i <= n; i++ {
		p *= 1 - float64(k)/float64(i)
	}
	return 1 - p
}
