/// A page written to the original AngularJS page's contract with `POST /matches` (README, "The
/// original page"): every poll it posts a JSON body with `$http.post` (so the browser sends a CORS
/// preflight), takes `response.data.body`, replaces every `'` with `"`, parses it, pushes each
/// match's `url` and `title`, and shows the first three as `<img ng-src>` with the title under it.
/// An HTTP error stops the polling for good, as it did in the original; a body it cannot parse
/// (`NO MATCHES`) only fails that poll.
///
/// `?api=` is the API's base URL with its trailing slash (the original's `ENV` constant) and
/// `?poll=` the interval in milliseconds (10 000 in the original; the test polls faster).
/// `#status` counts the answers and says whether polling stopped, so the test can wait on them.
enum OriginalPage {
    static let html = #"""
        <!doctype html>
        <html lang="en" ng-app="originalPage">
        <head>
        <meta charset="utf-8">
        <title>Visual search: latest matches</title>
        <script src="angular.min.js"></script>
        <script>
        var settings = new URLSearchParams(location.search);
        angular.module('originalPage', [])
            .constant('ENV', settings.get('api'))
            .constant('POLL_MS', Number(settings.get('poll')) || 10000)
            .controller('SearchCtrl', ['$scope', '$interval', '$http', 'ENV', 'POLL_MS',
                function ($scope, $interval, $http, ENV, POLL_MS) {
                    $scope.images = null;
                    $scope.titles = null;
                    $scope.answers = 0;
                    $scope.stopped = false;
                    var poll = $interval(function () {
                        $http.post(ENV + 'matches', { ApiCallType: 'check-search-results' }).then(
                            function (response) {
                                $scope.answers += 1;
                                let rawResult = response.data.body;
                                rawResult = rawResult.replace(/\'/g, "\"");
                                let json = JSON.parse(rawResult);
                                $scope.images = [];
                                $scope.titles = [];
                                json.matches.forEach(match => {
                                    $scope.images.push(match.url);
                                    $scope.titles.push(match.title);
                                });
                            },
                            function () {
                                $scope.stopped = true;
                                $interval.cancel(poll);
                            });
                    }, POLL_MS);
                }]);
        </script>
        </head>
        <body ng-controller="SearchCtrl">
        <h1>Latest matches</h1>
        <p id="status" data-answers="{{answers}}" data-stopped="{{stopped}}"></p>
        <figure class="match" ng-repeat="i in [0, 1, 2]" ng-if="images[i]">
            <img ng-src="{{images[i]}}" alt="{{titles[i]}}" width="224">
            <figcaption class="title">{{titles[i]}}</figcaption>
        </figure>
        </body>
        </html>
        """#
}
