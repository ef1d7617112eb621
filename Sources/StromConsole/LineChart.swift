import Foundation

/// A line chart drawn on the server as SVG: one or more series over time, a y axis from zero to
/// a rounded maximum, the time span under it. No script draws it; it scales with its container.
struct LineChart {
    struct Series {
        var name: String
        var colour: String
        /// (time in ms, value), oldest first.
        var points: [(Int64, Double)]
    }

    var series: [Series]
    var unit: (Double) -> String
    var width = 720.0
    var height = 220.0

    func render(title: String) -> String {
        let left = 64.0, right = 12.0, top = 12.0, bottom = 28.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let times = series.flatMap { $0.points.map(\.0) }
        let description = series.map(\.name).joined(separator: ", ")
        guard let first = times.min(), let last = times.max(), last > first else {
            return """
                <figure><figcaption>\(HTML.escape(title))</figcaption>
                <p class="muted">Not enough history yet: a point is kept every 10 seconds.</p></figure>
                """
        }
        let maximum = Self.roundedUp(series.flatMap { $0.points.map(\.1) }.max() ?? 0)
        func x(_ time: Int64) -> Double { left + plotWidth * Double(time - first) / Double(last - first) }
        func y(_ value: Double) -> Double { top + plotHeight * (1 - (maximum > 0 ? value / maximum : 0)) }
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title)): \(HTML.escape(description))\">"
        for step in 0...4 {
            let value = maximum * Double(step) / 4
            let lineY = Self.number(y(value))
            svg += "<line x1=\"\(Int(left))\" x2=\"\(Int(width - right))\" y1=\"\(lineY)\" y2=\"\(lineY)\" stroke=\"#e3e7ec\"/>"
            svg += "<text x=\"\(Int(left - 6))\" y=\"\(lineY)\" font-size=\"11\" text-anchor=\"end\" dominant-baseline=\"middle\" fill=\"#5b6470\">\(HTML.escape(unit(value)))</text>"
        }
        let minutes = Double(last - first) / 60_000
        let span = minutes >= 1 ? "\(Int(minutes.rounded())) min ago" : "\(Int((Double(last - first) / 1_000).rounded())) s ago"
        svg += "<text x=\"\(Int(left))\" y=\"\(Int(height - 8))\" font-size=\"11\" fill=\"#5b6470\">\(span)</text>"
        svg += "<text x=\"\(Int(width - right))\" y=\"\(Int(height - 8))\" font-size=\"11\" text-anchor=\"end\" fill=\"#5b6470\">now</text>"
        for line in series where !line.points.isEmpty {
            let path = line.points.map { "\(Self.number(x($0.0))),\(Self.number(y($0.1)))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(line.colour)\" stroke-width=\"2\" points=\"\(path)\"><title>\(HTML.escape(line.name))</title></polyline>"
        }
        svg += "</svg>"
        let legend = series.map { "<span style=\"color:\($0.colour)\">■</span> \(HTML.escape($0.name))" }.joined(separator: " &nbsp; ")
        return "<figure><figcaption>\(HTML.escape(title)) · \(legend)</figcaption>\(svg)</figure>"
    }

    /// 1, 2 or 5 times a power of ten, at least `value` (and at least 1).
    static func roundedUp(_ value: Double) -> Double {
        guard value > 1 else { return 1 }
        let power = pow(10, floor(log10(value)))
        for factor in [1.0, 2, 5, 10] where factor * power >= value { return factor * power }
        return 10 * power
    }

    static func number(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}
